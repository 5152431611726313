/** How platforms (Cloud Foundry, Kubernetes) retry, for the chaos and crash tests. */
import { SEED_PLAN_ID, SEED_SERVICE_ID } from '../../src/app/default-catalog.js'

/** Sends one OSB request and answers its HTTP status (0 when the connection failed). */
export type Send = (method: 'PUT' | 'DELETE', path: string, body?: unknown) => Promise<number>

const IDS = `service_id=${SEED_SERVICE_ID}&plan_id=${SEED_PLAN_ID}`

/**
 * Orphan mitigation and plain deletes: DELETE (with the seed plan's ids) until it answers 200 or 410,
 * pausing `pauseMs` between attempts; throws after `giveUpMs`, saying what `lastAnswer` reports.
 */
export async function deleteUntilGone (send: Send, path: string, options: { pauseMs: number, giveUpMs?: number, lastAnswer?: () => string }): Promise<void> {
  const giveUp = Date.now() + (options.giveUpMs ?? 120_000)
  while (Date.now() < giveUp) {
    const status = await send('DELETE', `${path}?${IDS}`)
    if (status === 200 || status === 410) return
    await new Promise(resolve => setTimeout(resolve, options.pauseMs))
  }
  throw new Error(`DELETE ${path} never succeeded${options.lastAnswer === undefined ? '' : `: last answer ${options.lastAnswer()}`}`)
}
