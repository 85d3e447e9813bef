import { PassThrough, Writable, type Readable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failures';
import type { KubernetesNodeAccess } from '../../config/nodeSchema';
import type { KubernetesAccess } from '../../config/kubernetesSchema';
import { loadKubeConfig } from '../kubernetes/client';
import { podExec, PodExecRefused, type ExecIo, type PodTarget } from '../kubernetes/podExec';
import { HostCommandFailed, type NodeHost, type RunOptions } from './access';

// The node runs in a pod: every command goes through the API server's exec
// into the RabbitMQ container, as the guide's `kubectl exec` does. The
// container's own tools run the command (tar, rabbitmqctl); compression,
// hashing and storage stay in the worker.
export class KubernetesNodeHost implements NodeHost {
  readonly rabbitmqctl: string;
  readonly rabbitmqDiagnostics: string;
  readonly rabbitmqServer: string;
  readonly target: PodTarget;
  private readonly kubeconfig: string;
  private readonly context: string | undefined;
  private readonly env: Record<string, string>;

  constructor(
    readonly nodeName: string,
    access: KubernetesNodeAccess,
    cluster: KubernetesAccess | undefined,
  ) {
    this.rabbitmqctl = access.rabbitmqctl;
    this.rabbitmqDiagnostics = access.rabbitmqctl.includes('/') ? `${access.rabbitmqctl.replace(/[^/]*$/, '')}rabbitmq-diagnostics` : 'rabbitmq-diagnostics';
    this.rabbitmqServer = access.rabbitmqServer;
    // The schema refuses a node without these when the cluster has no kubernetes section.
    const namespace = access.namespace ?? cluster?.namespace ?? '';
    this.kubeconfig = access.kubeconfig ?? cluster?.kubeconfig ?? '';
    this.context = access.kubeconfig ? access.context : (access.context ?? cluster?.context);
    this.target = { namespace, pod: access.pod ?? `${access.statefulSet}-${access.ordinal}`, container: access.container };
    this.env = access.env;
  }

  describe(): string {
    return `pod ${this.target.namespace}/${this.target.pod} (container ${this.target.container}) of ${this.nodeName}`;
  }

  // Staged copies are made with the worker's own file-system calls: a pod's
  // files are not the worker's, so its backups copy while the node is stopped.
  stagingDirectory(): null {
    return null;
  }

  private argv(argv: string[]): string[] {
    const vars = Object.entries(this.env).map(([k, v]) => `${k}=${v}`);
    return vars.length ? ['env', ...vars, ...argv] : argv;
  }

  private exec(argv: string[], io: ExecIo): Promise<void> {
    return loadKubeConfig(this.kubeconfig, this.context)
      .then((kc) => podExec(kc, this.target, this.argv(argv), io))
      .catch((error: unknown) => {
        // Credentials refused (401) or the verb not granted (403): no retry changes that.
        if (error instanceof PodExecRefused && (error.httpStatus === 401 || error.httpStatus === 403)) {
          throw ApplicationFailure.create({ message: error.message, type: FailureType.AuthenticationFailed, nonRetryable: true });
        }
        throw error;
      });
  }

  async run(argv: string[], options: RunOptions = {}): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    const stdout = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        size += chunk.length;
        // As the local access's maxBuffer: a command's answer, never bulk data.
        if (size <= 64 * 1024 * 1024) chunks.push(chunk);
        callback();
      },
    });
    await this.exec(argv, { stdout, timeoutMs: options.timeoutMs ?? 120_000, signal: options.signal });
    if (size > 64 * 1024 * 1024) throw new HostCommandFailed(argv, 0, `output over 64 MiB from ${this.describe()}`);
    return Buffer.concat(chunks).toString('utf8');
  }

  streamOut(argv: string[]): Readable {
    const out = new PassThrough({ highWaterMark: 1024 * 1024 });
    this.exec(argv, { stdout: out }).then(
      () => out.end(),
      (error: unknown) => out.destroy(error as Error),
    );
    return out;
  }

  streamIn(argv: string[], input: Readable): Promise<void> {
    return this.exec(argv, { stdin: input });
  }
}
