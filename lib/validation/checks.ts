import type { CheckResult, ComponentValidation } from '../../contracts/validation';
import { artifactKey, DEFINITIONS_ARTIFACT, setsFolder } from '../../common/backupSetLayout';
import type { Manifest } from '../../common/manifest';
import { DEFAULT_VALIDATION, GUIDE_TARGETS } from '../../common/guideTargets';
import type { Component } from '../../common/names';
import type { RabbitvaultConfig } from '../../config/schema';
import { readSmallObject } from '../backupSets/artifacts';
import { listSets } from '../backupSets/catalog';
import { verifySet } from '../backupSets/verify';
import { countDefinitions, entityKinds, MAX_DEFINITIONS_BYTES, parseDefinitions, type DefinitionsCounts } from '../definitions/model';
import type { ManagementApi } from '../rabbitmq/managementApi';
import type { StorageBackend } from '../storage/backend';

export interface Thresholds {
  minBytes: number;
  rpoHours: number;
  requiredArtifacts: string[];
}

// The config's thresholds for a component, the guide's where it sets none.
export function thresholdsFor(config: RabbitvaultConfig, component: Component): Thresholds {
  const configured = config.validation.components[component] ?? {};
  return {
    minBytes: configured.minBytes ?? DEFAULT_VALIDATION[component].minBytes,
    rpoHours: configured.rpoHours ?? GUIDE_TARGETS[component].rpoSeconds / 3600,
    requiredArtifacts: configured.requiredArtifacts ?? DEFAULT_VALIDATION[component].requiredArtifacts,
  };
}

// The guide's validation checklist on the newest set of one cluster+component.
export async function validateNewestSet(
  backend: StorageBackend,
  // snapshotProblems: a volume-snapshot set's VolumeSnapshots checked in the cluster.
  target: { cluster: string; component: Component; thresholds: Thresholds; now: Date; liveApi?: () => ManagementApi; snapshotProblems?: (manifest: Manifest) => Promise<Array<{ artifact: string; problem: string }>> },
): Promise<ComponentValidation> {
  const { cluster, component, thresholds, now } = target;
  const sets = await listSets(backend, { cluster, component });
  const newest = sets.find((s) => s.complete && s.manifest);
  const base = { cluster, component };
  if (!newest?.manifest) {
    return { ...base, status: 'no-backups', checks: [{ check: 'newest set', ok: false, detail: `no complete ${component} set of ${cluster} in ${backend.locate(setsFolder({ cluster, component }))}` }] };
  }
  const manifest = newest.manifest;
  const checks: CheckResult[] = [];
  const add = (check: string, ok: boolean, detail: string, warning = false) => checks.push({ check, ok, detail, ...(warning ? { warning } : {}) });

  const unreadable = sets.find((s) => s.problem && s.setId > newest.setId);
  add('manifest parses', !unreadable, unreadable ? `newer set ${unreadable.setId} has an unreadable manifest: ${unreadable.problem}` : `manifest of ${newest.setId} is valid`);

  const names = manifest.artifacts.map((a) => a.name);
  const missing = thresholds.requiredArtifacts.filter((a) => !names.includes(a));
  add('required artifacts', missing.length === 0, missing.length ? `missing ${missing.join(', ')}` : `has ${names.join(', ')}`);

  const report = await verifySet(backend, newest.prefix, manifest);
  add(
    'checksums',
    report.ok,
    report.ok ? `${report.artifactsChecked} artifacts, ${report.bytesChecked} bytes match` : report.problems.map((p) => `${p.artifact}: ${p.problem}`).join('; '),
  );

  const bytes = manifest.artifacts.reduce((sum, a) => sum + a.size, 0);
  add('size floor', bytes >= thresholds.minBytes, `${bytes} bytes (floor ${thresholds.minBytes})`);

  const ageHours = (now.getTime() - Date.parse(manifest.finishedAt)) / 3_600_000;
  add('age under RPO', ageHours <= thresholds.rpoHours, `${ageHours.toFixed(2)} h old (RPO ${thresholds.rpoHours} h)`);

  if (component === 'definitions' && report.ok && names.includes(DEFINITIONS_ARTIFACT)) {
    checks.push(...(await definitionsChecks(backend, artifactKey(newest.prefix, DEFINITIONS_ARTIFACT), manifest, target.liveApi)));
  }
  if (component === 'volume-snapshot' && target.snapshotProblems) {
    const problems = await target.snapshotProblems(manifest).catch((error: unknown) => [{ artifact: 'VolumeSnapshots', problem: `not readable: ${(error as Error).message}` }]);
    add('snapshots ready', problems.length === 0, problems.length ? problems.map((p) => `${p.artifact}: ${p.problem}`).join('; ') : 'every VolumeSnapshot of the set exists and is readyToUse');
  }
  const failed = checks.some((c) => !c.ok && !c.warning);
  return { ...base, status: failed ? 'failed' : 'ok', setId: newest.setId, location: backend.locate(newest.prefix), checks };
}

async function definitionsChecks(backend: StorageBackend, key: string, manifest: Manifest, liveApi?: () => ManagementApi): Promise<CheckResult[]> {
  let counts: DefinitionsCounts;
  try {
    const declared = manifest.artifacts.find((a) => a.name === DEFINITIONS_ARTIFACT)?.size ?? 0;
    counts = countDefinitions(parseDefinitions(await readSmallObject(backend, key, Math.min(declared, MAX_DEFINITIONS_BYTES)), DEFINITIONS_ARTIFACT, true));
  } catch (error) {
    return [{ check: 'required keys', ok: false, detail: (error as Error).message }];
  }
  const checks: CheckResult[] = [{ check: 'required keys', ok: true, detail: 'users, vhosts, permissions, queues, exchanges, bindings present' }];
  if (!liveApi) return checks;
  // Drift since the backup is expected between runs: reported, never a failure.
  try {
    const live = countDefinitions(parseDefinitions(await liveApi().exportDefinitions(), 'live definitions', false));
    const diffs = entityKinds.filter((k) => live[k] !== counts[k]).map((k) => `${k}: backup ${counts[k]}, live ${live[k]}`);
    checks.push({ check: 'counts vs live cluster', ok: diffs.length === 0, warning: diffs.length > 0 || undefined, detail: diffs.length ? diffs.join('; ') : `same counts as the live cluster (${manifest.cluster})` });
  } catch (error) {
    checks.push({ check: 'counts vs live cluster', ok: false, warning: true, detail: `live cluster not readable: ${(error as Error).message}` });
  }
  return checks;
}
