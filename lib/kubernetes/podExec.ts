import querystring from 'node:querystring';
import type { Readable, Writable } from 'node:stream';
import { HostCommandFailed } from '../nodeAccess/access';
import { clientNode } from './client';

// A command in a pod's container through the API server's exec subresource
// (WebSocket, v5.channel.k8s.io: channel 0 stdin, 1 stdout, 2 stderr,
// 3 status, 255 close). @kubernetes/client-node's WebSocketHandler dials and
// authenticates; the channels are driven here rather than by its Exec class
// because bulk data needs flow control both ways: Exec writes every stdout
// frame regardless of the consumer and sends stdin as fast as it is read, so
// a data directory of gigabytes would pile up in the worker's memory.

export interface PodTarget {
  namespace: string;
  pod: string;
  container: string;
}

type KubeConfig = InstanceType<Awaited<ReturnType<typeof clientNode>>['KubeConfig']>;

// The part of the `ws` WebSocket (what client-node dials with) used here.
interface WebSocket {
  readonly readyState: number;
  readonly OPEN: number;
  readonly protocol: string;
  readonly bufferedAmount: number;
  send(data: Buffer): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  on(event: 'close', listener: (code: number) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
}

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const STATUS = 3;
const CLOSE = 255;
// Pause reading stdin while this much is queued in the socket.
const STDIN_HIGH_WATER = 4 * 1024 * 1024;
const STDERR_KEPT = 16 * 1024;
// How long our own close waits for the API server's reply before the connection is dropped.
const CLOSE_GRACE_MS = 1000;

export interface ExecIo {
  stdin?: Readable;
  stdout?: Writable;
  timeoutMs?: number;
  // Closes the exec (the kubelet then ends the command) when aborted.
  signal?: AbortSignal;
}

// Runs argv in the pod; resolves when the command exited 0, rejects with
// HostCommandFailed (exit code and stderr) otherwise, or with a retryable
// error when the stream dropped before the command's status arrived.
export async function podExec(kc: KubeConfig, target: PodTarget, argv: string[], io: ExecIo): Promise<void> {
  const k8s = await clientNode();
  const query = querystring.stringify({ stdout: true, stderr: true, stdin: io.stdin !== undefined, tty: false, command: argv, container: target.container });
  const path = `/api/v1/namespaces/${encodeURIComponent(target.namespace)}/pods/${encodeURIComponent(target.pod)}/exec?${query}`;
  let stderr = '';
  let status: { status?: string; message?: string; reason?: string; details?: { causes?: Array<{ reason?: string; message?: string }> } } | undefined;
  // Set once dialled; frames only arrive after that.
  const dialled: { ws?: WebSocket } = {};
  let stdoutBlocked = false;
  // Exec's handler dials with the kubeconfig's TLS and credentials.
  const handler = new k8s.Exec(kc).handler;
  const ws = (await handler
    .connect(path, null, (stream: number, data: Buffer) => {
      if (stream === STDOUT && io.stdout && data.length > 0) {
        if (!io.stdout.write(data) && !stdoutBlocked && dialled.ws) {
          // Backpressure: stop reading the socket until the consumer drains.
          stdoutBlocked = true;
          const ws = dialled.ws;
          ws.pause();
          io.stdout.once('drain', () => {
            stdoutBlocked = false;
            ws.resume();
          });
        }
      } else if (stream === STDERR) {
        stderr = (stderr + data.toString('utf8')).slice(-STDERR_KEPT);
      } else if (stream === STATUS && data.length > 0) {
        status = JSON.parse(data.toString('utf8')) as typeof status;
        return false;
      }
      return true;
    })
    .catch((error: unknown) => {
      throw execConnectFailure(target, error);
    })) as unknown as WebSocket;
  dialled.ws = ws;

  const done = new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    // Why we closed it ourselves (the close code the event reports is the peer's echo, if any).
    let closedBy: 'timeout' | 'output' | 'cancelled' | undefined;
    // Our own close does not wait out the close handshake: a socket paused for
    // backpressure never reads the API server's reply, and the exec stayed in
    // flight there (CI: over 10 s after the reader gave up). After a moment
    // the connection is dropped, which ends the exec at the API server.
    const closeOurselves = (why: NonNullable<typeof closedBy>, code: number, reason: string) => {
      closedBy ??= why;
      ws.close(code, reason);
      setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
    };
    if (io.timeoutMs) timer = setTimeout(() => closeOurselves('timeout', 4000, 'timeout'), io.timeoutMs);
    // The consumer gave up (an upload failed and its pipeline was destroyed):
    // end the exec, or the paused socket and the command in the pod would
    // wait for a drain that never comes.
    io.stdout?.once('close', () => {
      if (status !== undefined || ws.readyState !== ws.OPEN) return;
      closeOurselves('output', 4002, 'output closed');
    });
    const cancelled = () => {
      if (status !== undefined || ws.readyState !== ws.OPEN) return;
      closeOurselves('cancelled', 4003, 'cancelled');
    };
    if (io.signal?.aborted) cancelled();
    else io.signal?.addEventListener('abort', cancelled, { once: true });
    ws.on('close', (code: number) => {
      if (timer) clearTimeout(timer);
      io.signal?.removeEventListener('abort', cancelled);
      if (status?.status === 'Success') return resolve();
      if (status) return reject(new HostCommandFailed(argv, exitCodeOf(status), `${stderr}\n${status.message ?? ''}`, /executable file not found|no such file or directory/i.test(status.message ?? '')));
      if (closedBy === 'output') return reject(new HostCommandFailed(argv, null, `${stderr}\nthe output of the exec in pod ${target.namespace}/${target.pod} was closed before the command ended`));
      if (closedBy === 'cancelled') return reject(new HostCommandFailed(argv, null, `${stderr}\nthe step was cancelled or its attempt timed out (exec in pod ${target.namespace}/${target.pod} closed)`));
      if (closedBy === 'timeout') return reject(new HostCommandFailed(argv, null, `${stderr}\nno exit status within ${Math.round((io.timeoutMs ?? 0) / 1000)} s (exec in pod ${target.namespace}/${target.pod} closed)`));
      reject(new ExecStreamDropped(target, argv, code, stderr));
    });
    ws.on('error', () => undefined); // the close event that follows says what happened
  });

  if (!io.stdin) return done;
  // Every byte of input is read, even after the command stopped reading (tar
  // -x stops at its end-of-archive marker): callers hash the whole input
  // upstream. A failed command or a dropped stream stops reading at once.
  const input = io.stdin;
  let inputError: unknown;
  const pumped = pumpStdin(ws, input).catch((error: unknown) => {
    inputError ??= error;
  });
  try {
    await done;
  } catch (error) {
    // A failed input closed the exec: its error is the cause, not the close.
    if (inputError !== undefined) throw inputError;
    input.destroy();
    await pumped;
    throw error;
  }
  await pumped;
  if (inputError !== undefined) throw inputError;
}

// Sends stdin in frames, waiting while the socket's queue is full, then the
// v5 close signal for channel 0 (the command sees end of input). Once the
// socket is closed the rest of the input is read and dropped.
async function pumpStdin(ws: WebSocket, stdin: Readable): Promise<void> {
  try {
    for await (const chunk of stdin) {
      if (ws.readyState !== ws.OPEN) continue;
      const data = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      for (let offset = 0; offset < data.length; offset += 1024 * 1024) {
        const part = data.subarray(offset, offset + 1024 * 1024);
        const frame = Buffer.allocUnsafe(part.length + 1);
        frame[0] = STDIN;
        part.copy(frame, 1);
        ws.send(frame);
        while (ws.bufferedAmount > STDIN_HIGH_WATER && ws.readyState === ws.OPEN) await new Promise((r) => setTimeout(r, 5));
      }
    }
  } catch (error) {
    // The input failed (e.g. a download cut): end the exec so the command
    // never sees a clean end of a truncated input.
    if (ws.readyState === ws.OPEN) ws.close(4001, 'input failed');
    throw error;
  }
  if (ws.readyState === ws.OPEN) {
    if (ws.protocol === 'v5.channel.k8s.io') ws.send(Buffer.from([CLOSE, STDIN]));
    else ws.close(1000);
  }
}

function exitCodeOf(status: { message?: string; details?: { causes?: Array<{ reason?: string; message?: string }> } }): number | null {
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  if (cause?.message && /^\d+$/.test(cause.message)) return Number(cause.message);
  // Kubelets that report a plain error say "... exit status N".
  const m = /exit (?:status|code) (\d+)/.exec(status.message ?? '');
  return m ? Number(m[1]) : null;
}

// The exec WebSocket closed before the command's status: the connection
// (API server, kubelet, network) dropped; the command may still be running
// or may have been killed. Retryable: steps are idempotent.
export class ExecStreamDropped extends Error {
  constructor(target: PodTarget, argv: string[], code: number, stderr: string) {
    super(`exec in pod ${target.namespace}/${target.pod} (container ${target.container}) dropped before ${argv[0]} reported its exit status (WebSocket close ${code})${stderr.trim() ? `; stderr: ${stderr.trim().slice(-300)}` : ''}`);
    this.name = 'ExecStreamDropped';
  }
}

// The WebSocket upgrade was refused: the API server's answer names why
// (403 Forbidden: which verb on which resource; 404: no such pod).
export class PodExecRefused extends Error {
  constructor(
    message: string,
    readonly httpStatus: number | null,
  ) {
    super(message);
    this.name = 'PodExecRefused';
  }
}

function execConnectFailure(target: PodTarget, error: unknown): Error {
  const message = error instanceof Error ? error.message : String((error as { message?: unknown })?.message ?? error);
  const httpStatus = Number(/Unexpected server response: (\d+)/.exec(message)?.[1] ?? NaN);
  const where = `pod ${target.namespace}/${target.pod}`;
  // The exec is a WebSocket upgrade (a GET): RBAC checks verb "get" on
  // pods/exec, and Kubernetes 1.35+ also "create" (as for kubectl's exec).
  if (httpStatus === 403) return new PodExecRefused(`Forbidden: the worker's Kubernetes identity may not get/create pods/exec in namespace ${target.namespace} (exec into ${where}); grant verbs "get" and "create" on resource "pods/exec" (deploy/kubernetes/role.yaml)`, 403);
  if (httpStatus === 404) return new PodExecRefused(`${where} not found (exec): is the pod running and the name right?`, 404);
  if (httpStatus === 401) return new PodExecRefused(`Unauthorized: the API server refused the worker's Kubernetes credentials (exec into ${where})`, 401);
  return new PodExecRefused(`exec into ${where} failed to connect: ${message}`, Number.isNaN(httpStatus) ? null : httpStatus);
}
