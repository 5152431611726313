/**
 * Whether Atlas answers the broker, learnt from the HTTP exchanges the adapter makes anyway and, when the
 * broker has been idle, from a cheap probe. Reported on every change (a metric, a warn line); readiness does
 * not depend on it: a replica that cannot reach Atlas still serves the catalog and storage-backed answers.
 */
import type { AtlasHttpOptions } from './atlas-http-client.js'

type Exchange = Parameters<NonNullable<AtlasHttpOptions['onExchange']>>[0]

export class AtlasReachability {
  private up = true
  private lastExchangeAt = 0
  private timer: NodeJS.Timeout | undefined
  private readonly onChange: (up: boolean, reason: string) => void

  constructor (onChange: (up: boolean, reason: string) => void) {
    this.onChange = onChange
  }

  get isUp (): boolean {
    return this.up
  }

  /** An exchange observer: any HTTP answer below 500 means Atlas is there; no answer or a 5xx means it is not. */
  readonly observe = (event: Exchange): void => {
    this.lastExchangeAt = Date.now()
    const up = event.status !== undefined && event.status < 500
    if (up === this.up) return
    this.up = up
    this.onChange(up, up ? `Atlas answered ${event.method} with ${event.status ?? ''}` : `Atlas did not answer ${event.method} (${event.status === undefined ? 'no answer' : `HTTP ${event.status}`})`)
  }

  /** Probes every `intervalMs` while no other exchange happened in that time (the probe's own exchange feeds `observe`). */
  startProbing (probe: () => Promise<unknown>, intervalMs: number): void {
    this.stop()
    this.timer = setInterval(() => {
      if (Date.now() - this.lastExchangeAt < intervalMs) return
      probe().catch(() => undefined)
    }, intervalMs)
    this.timer.unref()
  }

  stop (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }
}
