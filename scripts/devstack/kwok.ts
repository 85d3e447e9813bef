import { execFileSync, spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureGoTool, findGo, toolPath, type GoTool } from './goTools';
import { assertPortFree, isPortFree, waitFor } from './ports';
import { logTail } from './logTail';
import { SetupError, step } from './progress';
import { stopChild } from './temporal';

// kwok (sigs.k8s.io/kwok) is the kubelet of the test stack: it keeps a Node
// and its pods Ready and serves the kubelet's exec endpoint, which the real
// kube-apiserver reaches over HTTPS exactly as it reaches a kubelet. Its
// ClusterExec runs an exec'd command on this host, so `exec` into a "pod"
// reaches an isolated RabbitMQ node started by a test. What that leaves
// unproven (container images, users, file systems of a real pod) is in
// docs/testing.md.
export const KWOK: GoTool = { name: 'kwok', module: 'sigs.k8s.io/kwok/cmd/kwok', version: 'v0.8.0' };

// The node that test pods are scheduled on (spec.nodeName; no scheduler runs).
export const KWOK_NODE = 'rabbitvault-kwok';

// kwok's own stages (node Ready with addresses and the kubelet port; pods
// Running and Ready, completed, deleted), read from its module source.
const STAGES = ['kustomize/stage/node/fast/node-initialize.yaml', 'kustomize/stage/node/heartbeat/node-heartbeat.yaml', 'kustomize/stage/pod/fast/pod-ready.yaml', 'kustomize/stage/pod/fast/pod-complete.yaml', 'kustomize/stage/pod/fast/pod-delete.yaml'];

export async function ensureKwok(): Promise<{ binary: string; stages: string }> {
  const binary = await ensureGoTool(KWOK);
  const stages = path.join(path.dirname(toolPath(KWOK)), 'stages.yaml');
  if (!existsSync(stages)) {
    const out = execFileSync(findGo(), ['mod', 'download', '-json', `sigs.k8s.io/kwok@${KWOK.version}`], { env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' }, encoding: 'utf8', cwd: path.dirname(stages) });
    const dir = (JSON.parse(out) as { Dir?: string }).Dir;
    if (!dir) throw new SetupError(`go mod download sigs.k8s.io/kwok@${KWOK.version} named no source directory: ${out.slice(0, 300)}`);
    writeFileSync(stages, STAGES.map((f) => readFileSync(path.join(dir, f), 'utf8').trim()).join('\n---\n') + '\n');
  }
  return { binary, stages };
}

export interface RunningKwok {
  node: string;
  stop(): Promise<void>;
}

// kwok for the API server of `kubeconfig`, serving the kubelet API on
// 127.0.0.1:port with the API server's own self-signed certificate (the API
// server, started without --kubelet-certificate-authority, does not verify it).
// portForwards: a pod port forwarded to a port on this host for every pod
// (`kubectl port-forward` into a "pod" reaches a test node's listener).
export async function startKwok(options: { dir: string; kubeconfig: string; port: number; certFile: string; keyFile: string; portForwards?: Array<{ port: number; target: number }> }): Promise<RunningKwok> {
  const { binary, stages } = await ensureKwok();
  await assertPortFree(options.port, 'kwok (kubelet API)', 'stop what listens there or choose another port');
  const config = path.join(options.dir, 'kwok.yaml');
  // Every exec into every pod runs on this host, with kwok's environment.
  const clusterExec = ['apiVersion: kwok.x-k8s.io/v1alpha1', 'kind: ClusterExec', 'metadata:', '  name: rabbitvault-host', 'spec:', '  execs:', '  - local: {}'].join('\n');
  const forwards = (options.portForwards ?? []).map((f) => `  - ports: [${f.port}]\n    target: { address: 127.0.0.1, port: ${f.target} }`);
  const clusterPortForward = ['apiVersion: kwok.x-k8s.io/v1alpha1', 'kind: ClusterPortForward', 'metadata:', '  name: rabbitvault-host', 'spec:', '  forwards:', ...forwards].join('\n');
  writeFileSync(config, `${readFileSync(stages, 'utf8').trim()}\n---\n${clusterExec}\n${forwards.length ? `---\n${clusterPortForward}\n` : ''}`);
  const logFile = path.join(options.dir, 'kwok.log');
  const log = openSync(logFile, 'a');
  step(`starting kwok ${KWOK.version} (kubelet API on 127.0.0.1:${options.port})`);
  const child = spawn(
    binary,
    [
      '--kubeconfig', options.kubeconfig,
      '--config', config,
      '--manage-all-nodes',
      '--node-ip', '127.0.0.1',
      '--node-name', KWOK_NODE,
      '--node-port', String(options.port),
      '--server-address', `127.0.0.1:${options.port}`,
      '--tls-cert-file', options.certFile,
      '--tls-private-key-file', options.keyFile,
      '--node-lease-duration-seconds', '0',
    ],
    { stdio: ['ignore', log, log], env: { ...process.env, HOME: options.dir } },
  );
  let exited = false;
  child.on('exit', () => (exited = true));
  const stop = () => stopChild(child);
  try {
    await waitFor(
      `kwok on 127.0.0.1:${options.port}`,
      async () => {
        if (exited) throw new SetupError(`kwok exited before it was ready (log: ${logFile}): ${logTail(logFile, 5).join(' | ')}`);
        return !(await isPortFree(options.port));
      },
      60_000,
      500,
    );
    // The node pods are placed on; kwok makes it Ready with its address and kubelet port.
    const k8s = await import('@kubernetes/client-node');
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(options.kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNode({ body: { metadata: { name: KWOK_NODE, labels: { type: 'kwok' }, annotations: { 'kwok.x-k8s.io/node': 'fake' } } } });
    await waitFor(
      `node ${KWOK_NODE} Ready (kwok log: ${logFile})`,
      async () => {
        const node = await core.readNode({ name: KWOK_NODE });
        return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True') && (node.status?.daemonEndpoints?.kubeletEndpoint?.Port ?? 0) > 0;
      },
      60_000,
      500,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { node: KWOK_NODE, stop };
}
