/**
 * Atlas-managed X.509 certificates, as the simulator issues them: a real certificate (DER built here, signed
 * by the project's own CA) followed by its private key, in one PEM, like `POST /databaseUsers/{user}/certs`.
 * Shaped from the recorded answer: subject `CN=<username>`, issuer `CN=<project id>, OU=Atlas, O=MongoDB
 * Inc`, valid from an hour before issue for `months` calendar months, key usage digitalSignature and extended
 * key usage clientAuth, both critical. Atlas signs RSA-4096 keys; the simulator uses P-256 to stay fast.
 */
import { generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto'

const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  clientAuth: '1.3.6.1.5.5.7.3.2'
}

function length (n: number): Buffer {
  if (n < 0x80) return Buffer.from([n])
  const bytes: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256)
  return Buffer.from([0x80 | bytes.length, ...bytes])
}

function tlv (tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content)
  return Buffer.concat([Buffer.from([tag]), length(body.length), body])
}

const seq = (...items: Buffer[]): Buffer => tlv(0x30, ...items)
const set = (...items: Buffer[]): Buffer => tlv(0x31, ...items)

function oid (dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]]
  const bytes = [first * 40 + second]
  for (const arc of rest) {
    const chunk = [arc % 128]
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v % 128))
    bytes.push(...chunk)
  }
  return tlv(0x06, Buffer.from(bytes))
}

/** A non-negative INTEGER in DER's minimal form (no leading zero bytes unless the high bit needs one). */
function integer (value: Buffer): Buffer {
  let start = 0
  while (start < value.length - 1 && value[start] === 0) start++
  const minimal = value.subarray(start)
  return tlv(0x02, minimal[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), minimal]) : minimal)
}

function time (date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14)
  // UTCTime until 2049, GeneralizedTime after (RFC 5280 4.1.2.5).
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`))
}

function name (parts: Array<[string, string]>): Buffer {
  // UTF8String: usernames may hold characters PrintableString cannot.
  return seq(...parts.map(([type, value]) => set(seq(oid(type), tlv(0x0c, Buffer.from(value, 'utf8'))))))
}

function extension (id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [tlv(0x01, Buffer.from([0xff]))] : []), tlv(0x04, value))
}

/** `months` calendar months after `from` (clamped to the month's last day, as date libraries do). */
export function addMonths (from: Date, months: number): Date {
  const to = new Date(from)
  const day = to.getUTCDate()
  to.setUTCDate(1)
  to.setUTCMonth(to.getUTCMonth() + months)
  const last = new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth() + 1, 0)).getUTCDate()
  to.setUTCDate(Math.min(day, last))
  return to
}

export interface IssuedCertificate {
  /** The certificate and its private key, one PEM after the other. */
  pem: string
  serial: bigint
  notAfter: Date
  subject: string
}

/** The project's certificate authority: one key pair, the issuer of every user certificate. */
export class CertificateAuthority {
  private readonly key: KeyObject
  readonly publicKey: KeyObject
  private readonly issuer: Buffer

  constructor (projectId: string) {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    this.key = pair.privateKey
    this.publicKey = pair.publicKey
    this.issuer = name([[OID.commonName, projectId], [OID.organizationalUnit, 'Atlas'], [OID.organization, 'MongoDB Inc']])
  }

  issue (username: string, months: number, now = new Date()): IssuedCertificate {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    // 48 bits: the certificate list's `_id` is a JSON number, exact below 2^53.
    const serialBytes = randomBytes(6)
    serialBytes[0] = (serialBytes[0]! & 0x7f) | 0x40
    const notAfter = addMonths(now, months)
    const algorithm = seq(oid(OID.ecdsaWithSha256))
    const tbs = seq(
      tlv(0xa0, integer(Buffer.from([2]))),
      integer(serialBytes),
      algorithm,
      this.issuer,
      seq(time(new Date(now.getTime() - 3600_000)), time(notAfter)),
      name([[OID.commonName, username]]),
      pair.publicKey.export({ type: 'spki', format: 'der' }),
      tlv(0xa3, seq(
        extension(OID.keyUsage, true, tlv(0x03, Buffer.from([0x07, 0x80]))),
        extension(OID.extKeyUsage, true, seq(oid(OID.clientAuth)))
      ))
    )
    const signature = sign('sha256', tbs, this.key)
    const der = seq(tbs, algorithm, tlv(0x03, Buffer.from([0]), signature))
    const body = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')
    const key = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
    return {
      pem: `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n${key}`,
      serial: BigInt(`0x${serialBytes.toString('hex')}`),
      notAfter,
      subject: `CN=${username}`
    }
  }
}
