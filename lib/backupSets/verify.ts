import { artifactKey } from '../../common/backupSetLayout';
import type { Manifest } from '../../common/manifest';
import type { StorageBackend } from '../storage/backend';
import { hashStoredObject } from './artifacts';

export interface ArtifactProblem {
  artifact: string;
  problem: string;
}

export interface VerificationReport {
  setId: string;
  location: string;
  ok: boolean;
  artifactsChecked: number;
  bytesChecked: number;
  problems: ArtifactProblem[];
}

// Re-hashes every artifact against the manifest: size and SHA-256 both.
export async function verifySet(backend: StorageBackend, prefix: string, manifest: Manifest): Promise<VerificationReport> {
  const problems: ArtifactProblem[] = [];
  let bytesChecked = 0;
  for (const artifact of manifest.artifacts) {
    const key = artifactKey(prefix, artifact.name);
    if (!(await backend.stat(key))) {
      problems.push({ artifact: artifact.name, problem: `missing at ${backend.locate(key)}` });
      continue;
    }
    const actual = await hashStoredObject(backend, key);
    bytesChecked += actual.size;
    if (actual.size !== artifact.size) {
      problems.push({ artifact: artifact.name, problem: `size ${actual.size} bytes, manifest says ${artifact.size}` });
    } else if (actual.sha256 !== artifact.sha256) {
      problems.push({ artifact: artifact.name, problem: `SHA-256 ${actual.sha256}, manifest says ${artifact.sha256}` });
    }
  }
  return {
    setId: manifest.setId,
    location: backend.locate(prefix),
    ok: problems.length === 0,
    artifactsChecked: manifest.artifacts.length,
    bytesChecked,
    problems,
  };
}
