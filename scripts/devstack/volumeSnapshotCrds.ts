import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { clientNode } from '../../lib/kubernetes/client';
import { findGo } from './goTools';
import { SetupError, step } from './progress';

// The VolumeSnapshot CRDs (snapshot.storage.k8s.io/v1) as kubernetes-csi
// publishes them in its client module, for a kube-apiserver that has none:
// the module comes through the Go module cache (`go mod download`, once).
export const SNAPSHOTTER_CLIENT = { module: 'github.com/kubernetes-csi/external-snapshotter/client/v8', version: 'v8.7.0' };
const CRD_FILES = /^snapshot\.storage\.k8s\.io_volumesnapshot(classe|content)?s\.yaml$/;

// The CRD files of the module (config/crd/), downloading it on first use.
export async function volumeSnapshotCrdFiles(): Promise<string[]> {
  const ref = `${SNAPSHOTTER_CLIENT.module}@${SNAPSHOTTER_CLIENT.version}`;
  const { stdout } = await promisify(execFile)(findGo(), ['mod', 'download', '-json', ref], { cwd: os.tmpdir(), env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' } }).catch((error: { stderr?: string; message: string }) => {
    throw new SetupError(`go mod download ${ref} failed: ${(error.stderr || error.message).trim().split('\n').slice(-2).join(' | ')}`);
  });
  const dir = (JSON.parse(stdout) as { Dir?: string; Error?: string }).Dir;
  if (!dir) throw new SetupError(`go mod download ${ref} named no directory: ${stdout.trim()}`);
  const crdDir = path.join(dir, 'config', 'crd');
  const files = readdirSync(crdDir).filter((f) => CRD_FILES.test(f));
  if (files.length !== 3) throw new SetupError(`expected the three VolumeSnapshot CRDs in ${crdDir}, found ${files.join(', ') || 'none'}`);
  return files.sort().map((f) => path.join(crdDir, f));
}

type Crd = { metadata: { name: string; resourceVersion?: string }; status?: { conditions?: Array<{ type: string; status: string }> } };

// Creates (or updates) the three CRDs and waits until the API serves them. Idempotent.
export async function installVolumeSnapshotCrds(kubeconfig: string, timeoutMs = 60_000): Promise<string[]> {
  const k8s = await clientNode();
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const extensions = kc.makeApiClient(k8s.ApiextensionsV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const names: string[] = [];
  for (const file of await volumeSnapshotCrdFiles()) {
    const body = parse(readFileSync(file, 'utf8')) as Crd;
    delete body.status;
    const name = body.metadata.name;
    names.push(name);
    await extensions.createCustomResourceDefinition({ body: body as never }).catch(async (error: { code?: number }) => {
      if (error.code !== 409) throw error;
      const existing = (await extensions.readCustomResourceDefinition({ name })) as Crd;
      await extensions.replaceCustomResourceDefinition({ name, body: { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata.resourceVersion } } as never });
    });
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const established = await Promise.all(names.map(async (name) => ((await extensions.readCustomResourceDefinition({ name })) as Crd).status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false));
    const served = await custom
      .getAPIResources({ group: 'snapshot.storage.k8s.io', version: 'v1' })
      .then((r) => r.resources.length >= 3)
      .catch(() => false);
    if (established.every(Boolean) && served) break;
    if (Date.now() > deadline) throw new SetupError(`the VolumeSnapshot CRDs were not established within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  step(`VolumeSnapshot CRDs of ${SNAPSHOTTER_CLIENT.module} ${SNAPSHOTTER_CLIENT.version} installed: ${names.join(', ')}`);
  return names;
}
