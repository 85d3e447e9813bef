import type { Client } from '@temporalio/client';
import { collectBackupHealth } from '../../lib/status/collectBackupHealth';
import type { RabbitvaultConfig } from '../../config/schema';

export interface Sample {
  name: string;
  help: string;
  labels: Record<string, string>;
  value: number;
}

// Every metric the worker serves (deploy/grafana and deploy/prometheus may name only these).
export const HELP: Record<string, string> = {
  rabbitmq_backup_rpo_seconds: 'RPO of this component (validation.components.C.rpoHours, else the guide\'s table).',
  rabbitmq_backup_healthy: '1 if `rabbitvault status` finds nothing past its RPO or failing for this component, else 0.',
  rabbitmq_backup_failed_runs_since_success: 'Failed or timed-out backup runs closed after the newest complete set.',
  rabbitmq_backup_schedule_paused: '1 if this component\'s backup schedule is paused, else 0.',
  rabbitmq_backup_last_success_timestamp_seconds: 'Finish time of the newest complete backup set (default storage).',
  rabbitmq_backup_duration_seconds: 'How long the newest complete backup took.',
  rabbitmq_backup_size_bytes: 'Size of the newest complete backup set.',
  rabbitmq_backup_sets: 'Complete backup sets per storage target.',
  rabbitmq_backup_failed_runs: 'Failed or timed-out backup workflow runs that Temporal visibility still holds.',
  rabbitmq_backup_last_failure_timestamp_seconds: 'Close time of the newest failed backup workflow run.',
  rabbitmq_backup_last_verified_timestamp_seconds: 'Time of the newest validation that passed for this component.',
  rabbitmq_backup_last_validation_success: '1 if the newest validation of this component passed, else 0.',
  rabbitmq_backup_last_drill_timestamp_seconds: 'Finish time of the newest restore drill of this cluster.',
  rabbitmq_backup_last_drill_success: '1 if the newest restore drill passed, else 0.',
  rabbitmq_backup_last_drill_rto_seconds: 'RTO measured by the newest restore drill.',
  rabbitmq_backup_offsite_last_success_timestamp_seconds: 'Finish time of the newest complete set on a non-default storage target.',
  rabbitmq_backup_replication_up: '1 if every shovel or federation link of the pair ran at its newest check, else 0.',
  rabbitmq_backup_replication_lag_messages: 'Messages waiting on the source for a link at the newest check.',
  rabbitmq_backup_replication_checked_timestamp_seconds: 'Time of the newest replication check of the pair.',
  rabbitmq_backup_replication_last_transfer_timestamp_seconds: 'Time of the newest recorded check at which a link had moved messages since the check before.',
  rabbitmq_backup_metrics_errors: 'Sources that could not be read for this scrape (1 per failing source).',
};

// The figures of lib/status (the same `rabbitvault status` prints), as gauges.
export async function collectSamples(config: RabbitvaultConfig, client: () => Promise<Client>): Promise<Sample[]> {
  const health = await collectBackupHealth(config, client);
  const samples: Sample[] = [];
  const add = (name: string, labels: Record<string, string>, value: number) => samples.push({ name, help: HELP[name]!, labels, value });
  for (const cluster of health.clusters) {
    for (const c of cluster.components) {
      const labels = { cluster: c.cluster, component: c.component };
      add('rabbitmq_backup_rpo_seconds', labels, c.rpoSeconds);
      add('rabbitmq_backup_healthy', labels, c.problems.length === 0 ? 1 : 0);
      if (c.newest) {
        add('rabbitmq_backup_last_success_timestamp_seconds', labels, Date.parse(c.newest.finishedAt) / 1000);
        add('rabbitmq_backup_duration_seconds', labels, c.newest.durationSeconds);
        add('rabbitmq_backup_size_bytes', labels, c.newest.sizeBytes);
      }
      for (const [storage, figures] of Object.entries(c.storage)) {
        add('rabbitmq_backup_sets', { ...labels, storage }, figures.completeSets);
        if (storage !== config.storage.default) add('rabbitmq_backup_offsite_last_success_timestamp_seconds', { ...labels, storage }, Date.parse(figures.newestFinishedAt) / 1000);
      }
      if (c.failures) {
        add('rabbitmq_backup_failed_runs', labels, c.failures.total);
        add('rabbitmq_backup_failed_runs_since_success', labels, c.failures.sinceLastSuccess);
        if (c.failures.newest) add('rabbitmq_backup_last_failure_timestamp_seconds', labels, Date.parse(c.failures.newest.closedAt) / 1000);
      }
      if (c.schedule?.applied) add('rabbitmq_backup_schedule_paused', labels, c.schedule.paused ? 1 : 0);
    }
    for (const r of cluster.validation?.results ?? []) {
      const labels = { cluster: cluster.cluster, component: r.component };
      add('rabbitmq_backup_last_validation_success', labels, r.status === 'ok' ? 1 : 0);
      if (r.status === 'ok') add('rabbitmq_backup_last_verified_timestamp_seconds', labels, Date.parse(cluster.validation!.checkedAt) / 1000);
    }
    const drill = cluster.drill;
    if (drill) {
      add('rabbitmq_backup_last_drill_timestamp_seconds', { cluster: cluster.cluster }, Date.parse(drill.finishedAt) / 1000);
      add('rabbitmq_backup_last_drill_success', { cluster: cluster.cluster }, drill.passed ? 1 : 0);
      add('rabbitmq_backup_last_drill_rto_seconds', { cluster: cluster.cluster }, drill.rtoSeconds);
    }
  }
  for (const r of health.replication) {
    const pair = { source: r.source, destination: r.destination };
    add('rabbitmq_backup_replication_up', pair, r.up ? 1 : 0);
    if (r.checkedAt) add('rabbitmq_backup_replication_checked_timestamp_seconds', pair, Date.parse(r.checkedAt) / 1000);
    for (const l of r.links) {
      const link = { ...pair, vhost: l.vhost, link: l.queue ?? l.exchange ?? l.name };
      if (l.lagMessages !== undefined) add('rabbitmq_backup_replication_lag_messages', link, l.lagMessages);
      if (l.lastTransferAt) add('rabbitmq_backup_replication_last_transfer_timestamp_seconds', link, Date.parse(l.lastTransferAt) / 1000);
    }
  }
  for (const e of health.sourceErrors) add('rabbitmq_backup_metrics_errors', { source: e.source }, 1);
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
