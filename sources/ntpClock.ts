/**
 * The local clock's offset from an NTP server, by one SNTP v4 exchange (RFC 4330) over UDP.
 * Exchanges reject requests whose timestamp is off by more than their receive window (Binance:
 * 5 s by default, 1 s recommended), so `run-pipeline doctor` checks it before a session starts.
 */
import { createSocket } from 'node:dgram';
import { Bot4Error } from '../operators/errors';

export type NtpErrorCode = 'NTP_TIMEOUT' | 'NTP_BAD_REPLY' | 'NTP_SOCKET';

export class NtpError extends Bot4Error<NtpErrorCode> {
  constructor(code: NtpErrorCode, message: string, options?: { readonly cause?: unknown }) {
    super(code, 'source', message, options);
  }
}

export interface NtpQuery {
  /** Host name or address of the NTP server. */
  readonly host: string;
  /** UDP port; default 123. */
  readonly port?: number;
  /** How long to wait for the reply, ms; default 3000. */
  readonly timeoutMs?: number;
  /** The local clock, ms since the epoch; default `Date.now` (a driver reads the wall clock). */
  readonly now?: () => number;
}

export interface NtpOffset {
  /** Server time minus local time, ms (positive: the local clock is behind). */
  readonly offsetMs: number;
  /** Round-trip delay of the exchange, ms. */
  readonly delayMs: number;
  /** The server's stratum (1 = primary reference). */
  readonly stratum: number;
}

/** Seconds between the NTP epoch (1900) and the Unix epoch (1970). */
const NTP_EPOCH_OFFSET_S = 2_208_988_800;

/** Writes Unix ms as a 64-bit NTP timestamp at `at`. */
export function writeNtpTime(buffer: Buffer, at: number, unixMs: number): void {
  const seconds = Math.floor(unixMs / 1000) + NTP_EPOCH_OFFSET_S;
  const fraction = Math.round(((unixMs % 1000) / 1000) * 2 ** 32);
  buffer.writeUInt32BE(seconds >>> 0, at);
  buffer.writeUInt32BE(Math.min(fraction, 2 ** 32 - 1) >>> 0, at + 4);
}

/** Reads a 64-bit NTP timestamp at `at` as Unix ms. */
export function readNtpTime(buffer: Buffer, at: number): number {
  const seconds = buffer.readUInt32BE(at);
  const fraction = buffer.readUInt32BE(at + 4);
  return (seconds - NTP_EPOCH_OFFSET_S) * 1000 + (fraction / 2 ** 32) * 1000;
}

/**
 * One SNTP request: resolves with the offset and delay, rejects with an `NtpError` on a timeout,
 * a socket error or a reply that is not a valid server answer to our request.
 */
export function queryNtpOffset(query: NtpQuery): Promise<NtpOffset> {
  const port = query.port ?? 123;
  const timeoutMs = query.timeoutMs ?? 3000;
  const now = query.now ?? Date.now;
  return new Promise<NtpOffset>((resolve, reject) => {
    const socket = createSocket(query.host.includes(':') ? 'udp6' : 'udp4');
    let settled = false;
    const finish = (result: { ok: NtpOffset } | { err: NtpError }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.close();
      if ('ok' in result) resolve(result.ok);
      else reject(result.err);
    };
    const timer = setTimeout(
      () => finish({ err: new NtpError('NTP_TIMEOUT', `NTP ${query.host}:${port}: no reply within ${timeoutMs} ms`) }),
      timeoutMs,
    );
    const request = Buffer.alloc(48);
    request[0] = (4 << 3) | 3; // LI 0, version 4, mode 3 (client)
    const t1 = now();
    writeNtpTime(request, 40, t1); // transmit timestamp: the server echoes it as "originate"
    socket.on('error', (err) =>
      finish({ err: new NtpError('NTP_SOCKET', `NTP ${query.host}:${port}: ${err.message}`, { cause: err }) }),
    );
    socket.on('message', (reply) => {
      const t4 = now();
      if (reply.length < 48) {
        finish({
          err: new NtpError('NTP_BAD_REPLY', `NTP ${query.host}:${port}: reply of ${reply.length} bytes, expected 48`),
        });
        return;
      }
      const mode = reply[0]! & 0x07;
      const stratum = reply[1]!;
      if (mode !== 4 || stratum === 0 || stratum > 15 || !reply.subarray(24, 32).equals(request.subarray(40, 48))) {
        finish({
          err: new NtpError(
            'NTP_BAD_REPLY',
            `NTP ${query.host}:${port}: not a server answer to our request (mode ${mode}, stratum ${stratum})`,
          ),
        });
        return;
      }
      const t2 = readNtpTime(reply, 32);
      const t3 = readNtpTime(reply, 40);
      finish({ ok: { offsetMs: (t2 - t1 + (t3 - t4)) / 2, delayMs: t4 - t1 - (t3 - t2), stratum } });
    });
    socket.send(request, port, query.host, (err) => {
      if (err) finish({ err: new NtpError('NTP_SOCKET', `NTP ${query.host}:${port}: ${err.message}`, { cause: err }) });
    });
  });
}
