import type { Component } from '../../common/names';
import type { StoredDrillReport, StoredReplicationReport, StoredValidationReport } from '../reports/newestReports';

// "Are my backups healthy?", per cluster and component: what `rabbitvault
// status` prints and what the worker's /metrics serves, computed once by
// collectBackupHealth from the storage catalogs and Temporal visibility.

export interface SetFigures {
  setId: string;
  finishedAt: string;
  sizeBytes: number;
  durationSeconds: number;
}

export interface FailedRun {
  workflowId: string;
  runId: string;
  closedAt: string;
  // Read only for `status` (HealthOptions.details).
  message?: string;
  webUiUrl: string;
}

export interface ScheduleState {
  id: string;
  // false: configured in schedules.backups but not applied (`rabbitvault schedules apply`).
  applied: boolean;
  paused: boolean;
  note?: string;
  nextRunAt?: string;
}

export interface ComponentHealth {
  cluster: string;
  component: Component;
  rpoSeconds: number;
  // Newest complete set on the default storage, and its age when collected.
  newest?: SetFigures & { storage: string; ageSeconds: number };
  withinRpo: boolean;
  // Complete sets and the newest one's finish time, per storage target that holds any.
  storage: Record<string, { completeSets: number; newestSetId: string; newestFinishedAt: string }>;
  offsite?: { storage: string; newestSetId?: string; newestFinishedAt?: string; holdsNewest: boolean };
  validation?: { checkedAt: string; status: string; failedCheck?: string };
  schedule?: ScheduleState;
  // From Temporal visibility: every failed run it holds, those after the newest set, and the newest one.
  failures?: { total: number; sinceLastSuccess: number; newest?: FailedRun };
  problems: string[];
  warnings: string[];
}

export interface ClusterHealth {
  cluster: string;
  components: ComponentHealth[];
  validation?: StoredValidationReport;
  drill?: StoredDrillReport;
  problems: string[];
}

export interface StorageHealth {
  storage: string;
  default: boolean;
  completeSets: number;
  // Bytes the restic repository (RESTIC_REPOSITORY_FOLDER) takes on this target, when it has one.
  resticRepositoryBytes?: number;
}

// A replication pair of replication.pairs, from its newest recorded check.
export interface ReplicationHealth {
  source: string;
  destination: string;
  checkedAt?: string;
  ageSeconds?: number;
  up: boolean;
  links: StoredReplicationReport['links'];
  problems: string[];
}

export interface BackupHealth {
  generatedAt: string;
  healthy: boolean;
  clusters: ClusterHealth[];
  replication: ReplicationHealth[];
  storage: StorageHealth[];
  // A source that could not be read: storage:NAME, reports:CLUSTER or temporal.
  sourceErrors: Array<{ source: string; message: string }>;
}

// "45 s", "12 min", "6 h", "3.5 d": how long, for people.
export function duration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 48 * 3600) return `${+(seconds / 3600).toFixed(1)} h`;
  return `${+(seconds / 86400).toFixed(1)} d`;
}

// The verdict: problems make `status` exit 1 (past RPO or failing); warnings do not.
export function judgeComponent(c: Omit<ComponentHealth, 'problems' | 'warnings' | 'withinRpo'>): ComponentHealth {
  const problems: string[] = [];
  const warnings: string[] = [];
  const withinRpo = c.newest !== undefined && c.newest.ageSeconds <= c.rpoSeconds;
  if (c.newest && !withinRpo) problems.push(`newest set is ${duration(c.newest.ageSeconds)} old, past its RPO of ${duration(c.rpoSeconds)}`);
  if (!c.newest && (c.schedule || (c.failures?.total ?? 0) > 0)) problems.push('no complete set on the default storage');
  if (c.failures && c.failures.sinceLastSuccess > 0) {
    problems.push(`${c.failures.sinceLastSuccess} failed run${c.failures.sinceLastSuccess === 1 ? '' : 's'} since the last success${c.failures.newest ? `, newest: ${c.failures.newest.message}` : ''}`);
  }
  if (c.validation && c.validation.status === 'failed') problems.push(`newest validation failed${c.validation.failedCheck ? `: ${c.validation.failedCheck}` : ''}`);
  if (c.schedule && !c.schedule.applied) warnings.push(`schedule ${c.schedule.id} is configured but not applied: run \`rabbitvault schedules apply\``);
  if (c.schedule?.paused) warnings.push(`schedule paused${c.schedule.note ? ` (${c.schedule.note})` : ''}`);
  if (c.offsite && c.newest && !c.offsite.holdsNewest) warnings.push(`off-site target ${c.offsite.storage} does not hold the newest set ${c.newest.setId} yet`);
  return { ...c, withinRpo, problems, warnings };
}

export function judgeCluster(cluster: string, components: ComponentHealth[], validation?: StoredValidationReport, drill?: StoredDrillReport): ClusterHealth {
  const problems: string[] = [];
  if (drill && !drill.passed) problems.push(`newest restore drill (${drill.finishedAt}) failed or missed its targets`);
  return { cluster, components, validation, drill, problems };
}

export function judgeReplication(pair: { source: string; destination: string }, report: StoredReplicationReport | undefined, now: Date, staleAfterSeconds: number): ReplicationHealth {
  if (!report) return { ...pair, up: false, links: [], problems: ['no replication check recorded yet (schedules.replicationStatus, or `replicate status` does not record)'] };
  const ageSeconds = Math.max(0, (now.getTime() - Date.parse(report.checkedAt)) / 1000);
  const problems: string[] = [];
  // Judged from the links, not from the report's own claim (it is read from storage).
  const up = report.up && report.unreachable.length === 0 && report.links.length > 0 && report.links.every((l) => l.state === 'running');
  if (!up) {
    const down = report.links.filter((l) => l.state !== 'running').map((l) => `${l.kind} ${l.queue ?? l.exchange ?? l.name}: ${l.state}${l.reason ? ` (${l.reason})` : ''}`);
    problems.push(`replication down: ${[...report.unreachable, ...down].join('; ') || 'no link configured'}`);
  }
  if (ageSeconds > staleAfterSeconds) problems.push(`newest check is ${duration(ageSeconds)} old (stale after ${duration(staleAfterSeconds)})`);
  return { ...pair, checkedAt: report.checkedAt, ageSeconds, up, links: report.links, problems };
}

export function isHealthy(clusters: ClusterHealth[], sourceErrors: BackupHealth['sourceErrors'], replication: ReplicationHealth[] = []): boolean {
  return sourceErrors.length === 0 && replication.every((r) => r.problems.length === 0) && clusters.every((c) => c.problems.length === 0 && c.components.every((k) => k.problems.length === 0));
}
