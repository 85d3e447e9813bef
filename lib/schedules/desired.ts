import { createHash } from 'node:crypto';
import type { ScheduleSpec } from '../../config/automationSchema';
import type { RabbitvaultConfig } from '../../config/schema';
import { Component } from '../../common/names';
import type { WorkflowStart } from '../../contracts';
import { DrillsWorkflow } from '../../contracts/drills';
import { ReplicationWorkflow } from '../../contracts/replication';
import { RetentionWorkflow } from '../../contracts/retention';
import { SchedulesWorkflow } from '../../contracts/schedules';
import { ValidationWorkflow } from '../../contracts/validation';
import { componentWorkflow } from './componentWorkflows';

interface ScheduleFields {
  id: string;
  // What an operator reads in `schedules list`.
  description: string;
  spec: ScheduleSpec;
  workflowId: string;
  cluster: string;
  component: string;
}

// What a schedule starts (workflowType with the input its contract takes, type-checked together) and when.
type UnhashedSchedule = WorkflowStart & ScheduleFields;

// Hash of everything else: apply updates a schedule only when it changed.
export type DesiredSchedule = UnhashedSchedule & { hash: string };

// Ours are named rabbitvault:<task queue>:..., so a config owns exactly the
// schedules of its task queue and never touches another deployment's.
export function schedulePrefix(config: RabbitvaultConfig): string {
  return `rabbitvault:${config.temporal.taskQueue}:`;
}

export class ScheduleConfigError extends Error {}

export function desiredSchedules(config: RabbitvaultConfig): DesiredSchedule[] {
  const prefix = schedulePrefix(config);
  const out: UnhashedSchedule[] = [];
  for (const [cluster, components] of Object.entries(config.schedules.backups)) {
    if (!config.clusters[cluster]) throw new ScheduleConfigError(`schedules.backups.${cluster}: no such cluster in clusters`);
    for (const component of Component.options) {
      const s = components[component];
      if (!s) continue;
      const workflowType = s.workflowType ?? componentWorkflow(config, component).backup;
      const { workflowType: _w, input, storage, ...spec } = s;
      out.push({
        id: `${prefix}backup:${cluster}:${component}`,
        description: `${component} backup of ${cluster} (${workflowType})`,
        spec,
        workflowType: SchedulesWorkflow.backup,
        workflowId: `scheduled-backup-${cluster}-${component}`,
        input: { cluster, component, workflowType, input, ...(storage ? { storage } : {}) },
        cluster,
        component,
      });
    }
  }
  const { prune, validate, drill } = config.schedules;
  if (prune) {
    out.push({ id: `${prefix}prune`, description: 'retention on every storage target', spec: prune, workflowType: RetentionWorkflow.prune, workflowId: 'scheduled-prune', input: { dryRun: false }, cluster: 'all', component: 'retention' });
  }
  if (validate) {
    out.push({ id: `${prefix}validate`, description: 'validation of the newest sets', spec: validate, workflowType: ValidationWorkflow.validate, workflowId: 'scheduled-validate', input: {}, cluster: 'all', component: 'validation' });
  }
  if (drill) {
    const target = config.drills?.targetCluster;
    if (!target) throw new ScheduleConfigError('schedules.drill: set drills.targetCluster (the cluster drills restore into)');
    for (const cluster of Object.keys(config.clusters).filter((c) => c !== target)) {
      out.push({ id: `${prefix}drill:${cluster}`, description: `restore drill of ${cluster} into ${target}`, spec: drill, workflowType: DrillsWorkflow.drill, workflowId: `scheduled-drill-${cluster}`, input: { cluster }, cluster, component: 'drill' });
    }
  }
  if (config.schedules.replicationStatus) {
    for (const { source, destination } of config.replication.pairs) {
      out.push({
        id: `${prefix}replication:${source}:${destination}`,
        description: `replication check ${source} -> ${destination}`,
        spec: config.schedules.replicationStatus,
        workflowType: ReplicationWorkflow.status,
        workflowId: `scheduled-replication-${source}-${destination}`,
        input: { source, destination, record: true },
        cluster: source,
        component: 'replication',
      });
    }
  }
  return out.map((s) => ({ ...s, hash: createHash('sha256').update(JSON.stringify([s.spec, s.workflowType, s.workflowId, s.input, config.temporal.taskQueue])).digest('hex').slice(0, 16) }));
}
