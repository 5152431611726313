/** How platforms (Cloud Foundry, Kubernetes) retry and poll, for the chaos and crash tests. */
import { SEED_PLAN_ID, SEED_SERVICE_ID } from '../../src/app/default-catalog.js'

/** Sends one OSB request and answers its HTTP status (0 when the connection failed). */
export type Send = (method: 'PUT' | 'DELETE', path: string, body?: unknown) => Promise<number>

/** The query a platform adds to DELETE: the instance's service and plan (async plans: accepts_incomplete). */
export function deleteQuery (planId: string = SEED_PLAN_ID, async = false): string {
  return `service_id=${SEED_SERVICE_ID}&plan_id=${planId}${async ? '&accepts_incomplete=true' : ''}`
}

/**
 * Orphan mitigation and plain deletes: DELETE until it answers 200 or 410 (a 202 is asked again, which is
 * how a platform that re-sends the DELETE sees an asynchronous delete finish), pausing `pauseMs` between
 * attempts; throws after `giveUpMs`, saying what `lastAnswer` reports.
 */
export async function deleteUntilGone (
  send: Send, path: string, options: { pauseMs: number, query?: string, giveUpMs?: number, lastAnswer?: () => string }
): Promise<void> {
  const giveUp = Date.now() + (options.giveUpMs ?? 120_000)
  while (Date.now() < giveUp) {
    const status = await send('DELETE', `${path}?${options.query ?? deleteQuery()}`)
    if (status === 200 || status === 410) return
    await new Promise(resolve => setTimeout(resolve, options.pauseMs))
  }
  throw new Error(`DELETE ${path} never succeeded${options.lastAnswer === undefined ? '' : `: last answer ${options.lastAnswer()}`}`)
}

/** Reads one last_operation (path with its query); the state, or undefined when the poll itself failed. */
export type ReadState = (path: string) => Promise<string | undefined>

/** Polls last_operation until the operation ends (a failed poll is simply polled again); its final state. */
export async function pollUntilDone (readState: ReadState, instance: string, planId: string, options: { pauseMs: number, giveUpMs?: number }): Promise<string> {
  const giveUp = Date.now() + (options.giveUpMs ?? 90_000)
  while (Date.now() < giveUp) {
    const state = await readState(`${instance}/last_operation?${deleteQuery(planId)}`)
    if (state === 'succeeded' || state === 'failed') return state
    await new Promise(resolve => setTimeout(resolve, options.pauseMs))
  }
  throw new Error(`last_operation of ${instance} never ended`)
}

/** An asynchronous delete as platforms do it: DELETE, poll last_operation while it answers 202, until gone. */
export async function deleteAndPoll (
  send: Send, readState: ReadState, instance: string, planId: string, options: { pauseMs: number, giveUpMs?: number }
): Promise<void> {
  const giveUp = Date.now() + (options.giveUpMs ?? 120_000)
  while (Date.now() < giveUp) {
    const status = await send('DELETE', `${instance}?${deleteQuery(planId, true)}`)
    if (status === 200 || status === 410) return
    if (status === 202) await pollUntilDone(readState, instance, planId, options)
    else await new Promise(resolve => setTimeout(resolve, options.pauseMs))
  }
  throw new Error(`DELETE ${instance} never finished`)
}
