/**
 * Probes for the platform, served without broker auth or version header and without details:
 * `/healthz` answers while the process serves; `/readyz` answers 200 only when the dependencies answer
 * (storage reachable, Atlas credentials accepted), checked at most once per `cacheMs`.
 */
import type { FastifyPluginAsync } from 'fastify'

export interface ReadinessCheck {
  name: string
  check: () => Promise<void>
}

export interface HealthRoutesOptions {
  checks: ReadinessCheck[]
  cacheMs?: number
}

export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { checks, cacheMs = 5000 }) => {
  let last: { at: number, failing: string[] } | undefined
  let running: Promise<string[]> | undefined

  const evaluate = async (): Promise<string[]> => {
    const results = await Promise.all(checks.map(async c => {
      try {
        await c.check()
        return undefined
      } catch (err) {
        app.log.warn({ err, check: c.name }, 'readiness check failed')
        return c.name
      }
    }))
    return results.filter((name): name is string => name !== undefined)
  }

  app.get('/healthz', { config: { public: true }, logLevel: 'warn' }, async () => ({ status: 'ok' }))

  app.get('/readyz', { config: { public: true }, logLevel: 'warn' }, async (_request, reply) => {
    if (last === undefined || Date.now() - last.at > cacheMs) {
      running ??= evaluate().finally(() => { running = undefined })
      last = { at: Date.now(), failing: await running }
    }
    if (last.failing.length > 0) return await reply.code(503).send({ status: 'unavailable' })
    return { status: 'ready' }
  })
}
