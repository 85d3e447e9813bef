import { execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { stringify } from 'yaml';
import { findGo, runGo, toolCacheDir } from './goTools';
import { assertPortFree, waitFor } from './ports';
import { logTail } from './logTail';
import { SetupError, step } from './progress';
import { stopChild } from './temporal';

// A real Kubernetes API server (kube-apiserver + etcd) for the tests of
// rabbitvault's Kubernetes steps. Neither can be `go install`ed (Kubernetes'
// staging modules are `replace`d in its go.mod), so both are built from a small
// wrapper module that requires k8s.io/kubernetes and replaces each staging
// module with its published v0.Y.Z; etcd comes from the same module graph.
export const KUBERNETES_VERSION = 'v1.34.4';
const STAGING_VERSION = KUBERNETES_VERSION.replace(/^v1\./, 'v0.');

export interface KubernetesBinaries {
  apiserver: string;
  etcd: string;
}

export function kubernetesBinaries(): KubernetesBinaries {
  const dir = path.join(toolCacheDir(), `kubernetes-${KUBERNETES_VERSION}`);
  return { apiserver: path.join(dir, 'kube-apiserver'), etcd: path.join(dir, 'etcd') };
}

export async function ensureKubernetesBinaries(): Promise<KubernetesBinaries> {
  const bins = kubernetesBinaries();
  if (existsSync(bins.apiserver) && existsSync(bins.etcd)) return bins;
  const dir = path.dirname(bins.apiserver);
  const src = path.join(dir, 'src');
  mkdirSync(path.join(src, 'etcd'), { recursive: true });
  step(`building kube-apiserver and etcd ${KUBERNETES_VERSION} for the Kubernetes tests (first run only; about 5 minutes on 2 cores)`);
  const started = Date.now();
  writeFileSync(path.join(src, 'go.mod'), `module rabbitvault.local/kubetools\n\ngo 1.24.0\n\nrequire k8s.io/kubernetes ${KUBERNETES_VERSION}\n`);
  writeFileSync(path.join(src, 'tools.go'), '//go:build tools\n\npackage kubetools\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n');
  writeFileSync(
    path.join(src, 'etcd', 'main.go'),
    'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n',
  );
  // The staging modules are the requirements k8s.io/kubernetes pins at v0.0.0.
  const modFile = goModOf(src);
  const staging = [...readFileSync(modFile, 'utf8').matchAll(/^\s+(k8s\.io\/\S+) v0\.0\.0\s*$/gm)].map((m) => m[1]!);
  if (staging.length === 0) throw new SetupError(`no staging modules found in ${modFile}`);
  writeFileSync(
    path.join(src, 'go.mod'),
    `module rabbitvault.local/kubetools\n\ngo 1.24.0\n\nrequire k8s.io/kubernetes ${KUBERNETES_VERSION}\n\n${[...new Set(staging)].map((m) => `replace ${m} => ${m} ${STAGING_VERSION}`).join('\n')}\n`,
  );
  await runGo('kubernetes modules', ['mod', 'tidy'], { cwd: src });
  await runGo('kube-apiserver + etcd', ['build', '-v', '-o', `${dir}/`, 'k8s.io/kubernetes/cmd/kube-apiserver', './etcd'], { cwd: src });
  if (!existsSync(bins.apiserver) || !existsSync(bins.etcd)) throw new SetupError(`go build wrote no ${bins.apiserver} / ${bins.etcd}`);
  step(`built kube-apiserver and etcd in ${Math.round((Date.now() - started) / 1000)} s: ${dir}`);
  return bins;
}

// The downloaded go.mod of k8s.io/kubernetes (go mod download -json names it).
function goModOf(cwd: string): string {
  const out = execFileSync(findGo(), ['mod', 'download', '-json', `k8s.io/kubernetes@${KUBERNETES_VERSION}`], { cwd, env: { ...process.env, GOTOOLCHAIN: 'local' }, encoding: 'utf8' });
  const goMod = (JSON.parse(out) as { GoMod?: string }).GoMod;
  if (!goMod) throw new SetupError(`go mod download k8s.io/kubernetes@${KUBERNETES_VERSION} named no go.mod: ${out.slice(0, 300)}`);
  return goMod;
}

// GET /readyz?verbose with the token, trusting only the server's own
// self-signed certificate: 200, or the checks that failed (for the error).
function readiness(server: string, ca: string, token: string): Promise<{ ready: boolean; detail: string }> {
  return new Promise((resolve) => {
    const req = https.get(`${server}/readyz?verbose`, { ca: readFileSync(ca), headers: { authorization: `Bearer ${token}` }, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body = (body + chunk).slice(-20_000)));
      res.on('end', () => {
        const failed = body.split('\n').filter((l) => l.startsWith('[-]')).map((l) => l.slice(3).trim());
        resolve({ ready: res.statusCode === 200, detail: `HTTP ${res.statusCode}${failed.length ? `, failing: ${failed.join('; ')}` : ''}` });
      });
    });
    req.on('error', (error) => resolve({ ready: false, detail: error.message }));
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
  });
}

function lastLines(file: string): string {
  try {
    return logTail(file, 15).join('\n');
  } catch {
    return '(no log)';
  }
}

export interface RunningKubernetes {
  server: string;
  // A kubeconfig with a bearer token of system:masters, CA = the server's self-signed certificate.
  kubeconfig: string;
  // The API server's self-signed serving certificate and key (kwok serves the kubelet API with them).
  certFile: string;
  keyFile: string;
  stop(): Promise<void>;
}

// etcd and kube-apiserver on free loopback ports, state under dir; no kubelet,
// no controllers: objects are stored and served, nothing runs them.
export async function startKubernetesApiServer(options: { dir: string; etcdPort: number; etcdPeerPort: number; apiPort: number }): Promise<RunningKubernetes> {
  const bins = await ensureKubernetesBinaries();
  const { dir } = options;
  for (const [port, what] of [
    [options.etcdPort, 'etcd'],
    [options.etcdPeerPort, 'etcd peers'],
    [options.apiPort, 'kube-apiserver'],
  ] as const)
    await assertPortFree(port, what, 'stop what listens there or choose another port');
  mkdirSync(path.join(dir, 'certs'), { recursive: true });
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  writeFileSync(path.join(dir, 'sa.pub'), publicKey);
  writeFileSync(path.join(dir, 'sa.key'), privateKey, { mode: 0o600 });
  const token = randomBytes(16).toString('hex');
  writeFileSync(path.join(dir, 'tokens.csv'), `${token},rabbitvault-test,1,system:masters\n`, { mode: 0o600 });
  const log = openSync(path.join(dir, 'kubernetes.log'), 'a');
  step(`starting etcd and kube-apiserver ${KUBERNETES_VERSION} on https://127.0.0.1:${options.apiPort}`);
  const etcdUrl = `http://127.0.0.1:${options.etcdPort}`;
  const peerUrl = `http://127.0.0.1:${options.etcdPeerPort}`;
  const etcd = spawn(
    bins.etcd,
    ['--data-dir', path.join(dir, 'etcd'), '--listen-client-urls', etcdUrl, '--advertise-client-urls', etcdUrl, '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl, '--initial-cluster', `default=${peerUrl}`, '--log-level', 'warn'],
    { stdio: ['ignore', log, log] },
  );
  const apiserver = spawn(
    bins.apiserver,
    [
      '--etcd-servers', etcdUrl,
      '--bind-address', '127.0.0.1',
      '--advertise-address', '127.0.0.1',
      '--secure-port', String(options.apiPort),
      '--cert-dir', path.join(dir, 'certs'),
      '--token-auth-file', path.join(dir, 'tokens.csv'),
      // RBAC: tests run steps with a least-privilege Role's token (deploy/kubernetes/); the stack's own token is system:masters.
      '--authorization-mode', 'RBAC',
      '--service-account-issuer', 'https://kubernetes.default.svc',
      '--service-account-key-file', path.join(dir, 'sa.pub'),
      '--service-account-signing-key-file', path.join(dir, 'sa.key'),
      '--service-cluster-ip-range', '10.0.0.0/24',
      // kwok, the stack's kubelet, is reached at the node's InternalIP (127.0.0.1).
      '--kubelet-preferred-address-types', 'InternalIP',
    ],
    { stdio: ['ignore', log, log] },
  );
  const stop = async () => {
    await stopChild(apiserver);
    await stopChild(etcd);
  };
  const server = `https://127.0.0.1:${options.apiPort}`;
  const ca = path.join(dir, 'certs', 'apiserver.crt');
  // Under a loaded CI machine etcd's first fsyncs and the apiserver's
  // post-start hooks can take minutes; the error says which part was not ready.
  let last = 'no certificate yet';
  try {
    await waitFor(
      `kube-apiserver on ${server}`,
      async () => {
        if (apiserver.exitCode !== null || etcd.exitCode !== null) return true;
        if (!existsSync(ca)) return false;
        const r = await readiness(server, ca, token);
        last = r.detail;
        return r.ready;
      },
      240_000,
      500,
    );
    const exited = apiserver.exitCode !== null ? `kube-apiserver exited ${apiserver.exitCode}` : etcd.exitCode !== null ? `etcd exited ${etcd.exitCode}` : null;
    if (exited) throw new SetupError(exited);
  } catch (error) {
    await stop();
    const logFile = path.join(dir, 'kubernetes.log');
    throw new SetupError(`${(error as Error).message} (last readiness answer: ${last}; log ${logFile}, last lines:\n${lastLines(logFile)})`);
  }
  const kubeconfig = path.join(dir, 'kubeconfig.yaml');
  writeFileSync(
    kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server, 'certificate-authority': ca } }],
      users: [{ name: 'test', user: { token } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'test' } }],
      'current-context': 'test',
    }),
    { mode: 0o600 },
  );
  return { server, kubeconfig, certFile: ca, keyFile: path.join(dir, 'certs', 'apiserver.key'), stop };
}
