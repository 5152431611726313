/** The little logging the domain does: structured object first, message second (pino-compatible). */
export interface LoggerPort {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
  debug(obj: object, msg: string): void
}

export const silentLogger: LoggerPort = {
  info () {},
  warn () {},
  error () {},
  debug () {}
}
