import type { Client } from '@temporalio/client';
import { Component } from '../../common/names';
import { newestReport } from '../../lib/reports/newestReports';
import { listSets } from '../../lib/backupSets/catalog';
import { componentWorkflow } from '../../lib/schedules/componentWorkflows';
import { storageOpener } from '../../lib/storage/openStorage';
import type { RabbitvaultConfig } from '../../config/schema';

export interface Sample {
  name: string;
  help: string;
  labels: Record<string, string>;
  value: number;
}

const HELP: Record<string, string> = {
  rabbitmq_backup_last_success_timestamp_seconds: 'Finish time of the newest complete backup set (default storage).',
  rabbitmq_backup_duration_seconds: 'How long the newest complete backup took.',
  rabbitmq_backup_size_bytes: 'Size of the newest complete backup set.',
  rabbitmq_backup_sets: 'Complete backup sets per storage target.',
  rabbitmq_backup_failed_runs: 'Failed backup workflow runs that Temporal visibility still holds.',
  rabbitmq_backup_last_failure_timestamp_seconds: 'Close time of the newest failed backup workflow run.',
  rabbitmq_backup_last_verified_timestamp_seconds: 'Time of the newest validation that passed for this component.',
  rabbitmq_backup_last_validation_success: '1 if the newest validation of this component passed, else 0.',
  rabbitmq_backup_last_drill_timestamp_seconds: 'Finish time of the newest restore drill of this cluster.',
  rabbitmq_backup_last_drill_success: '1 if the newest restore drill passed, else 0.',
  rabbitmq_backup_last_drill_rto_seconds: 'RTO measured by the newest restore drill.',
  rabbitmq_backup_offsite_last_success_timestamp_seconds: 'Finish time of the newest complete set on a non-default storage target.',
  rabbitmq_backup_metrics_errors: 'Sources that could not be read for this scrape (1 per failing source).',
};

// Every figure comes from the storage catalogs and Temporal visibility, never
// from this process's memory, so a restarted worker reports the same.
export async function collectSamples(config: RabbitvaultConfig, client: () => Promise<Client>): Promise<Sample[]> {
  const samples: Sample[] = [];
  const add = (name: string, labels: Record<string, string>, value: number) => samples.push({ name, help: HELP[name]!, labels, value });
  const open = storageOpener(config);
  const pairs = new Set<string>();
  for (const storage of Object.keys(config.storage.targets)) {
    try {
      const { backend } = open(storage);
      const sets = await listSets(backend);
      const seen = new Set<string>();
      for (const s of sets) {
        if (!s.complete || !s.manifest) continue;
        const key = `${s.cluster}\u0000${s.component}`;
        pairs.add(key);
        const labels = { cluster: s.cluster, component: s.component };
        if (!seen.has(key)) {
          seen.add(key);
          const finished = Date.parse(s.manifest.finishedAt) / 1000;
          if (storage === config.storage.default) {
            add('rabbitmq_backup_last_success_timestamp_seconds', labels, finished);
            add('rabbitmq_backup_duration_seconds', labels, (Date.parse(s.manifest.finishedAt) - Date.parse(s.manifest.startedAt)) / 1000);
            add('rabbitmq_backup_size_bytes', labels, s.manifest.artifacts.reduce((sum, a) => sum + a.size, 0));
          } else {
            add('rabbitmq_backup_offsite_last_success_timestamp_seconds', { ...labels, storage }, finished);
          }
        }
      }
      for (const key of seen) {
        const [cluster, component] = key.split('\u0000') as [string, string];
        add('rabbitmq_backup_sets', { cluster, component, storage }, sets.filter((s) => s.complete && s.cluster === cluster && s.component === component).length);
      }
    } catch {
      add('rabbitmq_backup_metrics_errors', { source: `storage:${storage}` }, 1);
    }
  }

  const { backend } = open(undefined);
  for (const cluster of Object.keys(config.clusters)) {
    try {
      const validation = await newestReport(backend, cluster, 'validations');
      for (const r of validation?.results ?? []) {
        const labels = { cluster, component: r.component };
        add('rabbitmq_backup_last_validation_success', labels, r.status === 'ok' ? 1 : 0);
        if (r.status === 'ok') add('rabbitmq_backup_last_verified_timestamp_seconds', labels, Date.parse(validation!.checkedAt) / 1000);
      }
      const drill = await newestReport(backend, cluster, 'drills');
      if (drill) {
        add('rabbitmq_backup_last_drill_timestamp_seconds', { cluster }, Date.parse(drill.finishedAt) / 1000);
        add('rabbitmq_backup_last_drill_success', { cluster }, drill.passed ? 1 : 0);
        add('rabbitmq_backup_last_drill_rto_seconds', { cluster }, drill.rtoSeconds);
      }
    } catch {
      add('rabbitmq_backup_metrics_errors', { source: `reports:${cluster}` }, 1);
    }
    for (const component of Component.options) {
      if (componentWorkflow(config, component).backup) pairs.add(`${cluster}\u0000${component}`);
    }
  }

  try {
    const temporal = await client();
    for (const key of pairs) {
      const [cluster, component] = key.split('\u0000') as [string, string];
      const type = componentWorkflow(config, Component.parse(component)).backup;
      if (!type || !config.clusters[cluster]) continue;
      const query = `WorkflowType = '${type}' AND ExecutionStatus = 'Failed' AND RabbitvaultCluster = '${cluster}' AND RabbitvaultComponent = '${component}'`;
      const labels = { cluster, component };
      add('rabbitmq_backup_failed_runs', labels, (await temporal.workflow.count(query)).count);
      let last = 0;
      for await (const run of temporal.workflow.list({ query, pageSize: 50 })) {
        last = Math.max(last, (run.closeTime ?? run.startTime).getTime() / 1000);
        break;
      }
      if (last > 0) add('rabbitmq_backup_last_failure_timestamp_seconds', labels, last);
    }
  } catch {
    add('rabbitmq_backup_metrics_errors', { source: 'temporal' }, 1);
  }
  return samples;
}

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

// Prometheus text exposition format 0.0.4.
export function renderExposition(samples: Sample[]): string {
  const lines: string[] = [];
  for (const name of [...new Set(samples.map((s) => s.name))]) {
    lines.push(`# HELP ${name} ${HELP[name]}`, `# TYPE ${name} gauge`);
    for (const s of samples.filter((x) => x.name === name)) {
      const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escape(v)}"`).join(',');
      lines.push(`${name}{${labels}} ${s.value}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
