import { uuid4 } from '@temporalio/workflow';
import type { QueueBackup } from '../lib/messages/queueIndex';
import { BackupMessagesInput, type BackupMessagesResult, type QueueReconciliation } from '../contracts/messages';
import { newSetId } from '../common/names';
import { activitiesWithRetry, heartbeatingActivities } from './toolkit/activities';
import { explainFailure } from './toolkit/failures';
import { removingIncompleteSet } from './toolkit/incompleteSet';
import { parseWorkflowInput } from './toolkit/input';
import { writeSetManifest } from './toolkit/manifest';
import { reportFailover, trackProgress } from './toolkit/progress';

// The guide's "Option C" message backup, made safe: every message bit for bit,
// copy gives them all back, drain acks only what storage holds.
export async function backupMessages(rawInput: BackupMessagesInput): Promise<BackupMessagesResult> {
  const input = parseWorkflowInput(BackupMessagesInput, rawInput, 'backupMessages');
  const progress = trackProgress();
  const act = activitiesWithRetry('messages', input.retry);
  const reader = heartbeatingActivities('messages', input.retry, input.heartbeatTimeoutSeconds);
  const startedAt = new Date();
  const setId = newSetId(startedAt, uuid4());

  progress('listing queues', `cluster ${input.cluster}`);
  const { rabbitmqVersion, queues, failover } = await act
    .listQueuesForBackup({ cluster: input.cluster, vhosts: input.vhosts, queues: input.queues, mode: input.mode })
    .catch((error: unknown) => {
      throw explainFailure(`listing the queues of cluster ${input.cluster}`, error);
    });

  reportFailover(progress, 'management API', failover);

  // A failure once a queue is being read removes the partial set, unless it holds drained messages (stored nowhere else).
  let reading = false;
  const keep = () => (input.mode === 'drain' ? 'in drain mode it holds messages taken off the queues' : undefined);
  return removingIncompleteSet({ storage: input.storage, cluster: input.cluster, component: 'messages', setId }, { mayHoldData: () => reading, keep }, async () => {
    const backups: QueueBackup[] = [];
    for (const [queueIndex, queue] of queues.entries()) {
      reading = true;
      progress(`reading queue ${queueIndex + 1} of ${queues.length}`, `${queue.vhost} ${queue.name} (${input.mode})`);
      // The failover note is for the progress, not for queues.json.
      const { failover: queueFailover, ...backup } = await reader
        .backupQueueMessages({ cluster: input.cluster, storage: input.storage, setId, queueIndex, queue, mode: input.mode, segmentMiB: input.segmentMiB, idleSeconds: input.idleSeconds })
        .catch((error: unknown) => {
          throw explainFailure(`backing up queue "${queue.name}" in vhost "${queue.vhost}"`, error, input.mode === 'drain' && backups.length ? `queues already drained into the set: ${backups.map((b) => b.queue.name).join(', ')}` : '');
        });
      reportFailover(progress, `AMQP for ${queue.name}`, queueFailover);
      backups.push(backup);
      progress(`read queue ${queueIndex + 1} of ${queues.length}`, `${queue.name}: ${backup.messages} messages, ${backup.bodyBytes} bytes`);
    }

    progress('writing manifest', setId);
    const index = await act.storeQueueIndex({ cluster: input.cluster, storage: input.storage, setId, queues: backups }).catch((error: unknown) => {
      throw explainFailure('storing the queue index', error);
    });
    const reconciliation = backups.map(reconcile);
    const { location } = await writeSetManifest(act, {
      storage: index.storage,
      prefix: index.prefix,
      manifest: {
        cluster: input.cluster,
        component: 'messages',
        setId,
        rabbitmqVersion,
        artifacts: [index.artifact, ...backups.flatMap((b) => b.segments.map((s) => s.artifact))],
        startedAt: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        details: {
          mode: input.mode,
          format: 'rabbitvault messages v1 (README: message segment format)',
          queues: backups.map((b, i) => ({
            vhost: b.queue.vhost,
            name: b.queue.name,
            messages: b.messages,
            bytes: b.bodyBytes,
            depthAtStart: b.depthAtStart,
            endedBy: b.endedBy,
            segments: b.segments.map((s) => ({ name: s.artifact.name, messages: s.messages, bytes: s.bodyBytes, sha256: s.artifact.sha256 })),
            ...(reconciliation[i]!.note ? { note: reconciliation[i]!.note } : {}),
          })),
        },
      },
    }, { fateSaidByCaller: true });

    const sum = (f: (q: QueueReconciliation) => number) => reconciliation.reduce((n, q) => n + f(q), 0);
    const totals = { queues: backups.length, messages: sum((q) => q.captured), bytes: sum((q) => q.bytes), depthAtStart: sum((q) => q.depthAtStart), difference: sum((q) => q.difference) };
    progress('done', `${totals.messages} messages from ${totals.queues} queues into ${location}`);
    return { cluster: input.cluster, setId, storage: index.storage, location, mode: input.mode, rabbitmqVersion, totals, queues: reconciliation };
  });
}

function reconcile(b: QueueBackup): QueueReconciliation {
  const difference = b.messages - b.depthAtStart;
  const why =
    difference === 0
      ? b.note
      : `${Math.abs(difference)} ${difference < 0 ? 'fewer' : 'more'} messages captured than the queue held at the start (${b.endedBy === 'queue deleted' ? 'the queue was deleted while being read' : b.endedBy === 'idle' ? 'messages were taken by another consumer or expired before they reached us' : 'the queue changed while being read'})${b.note ? `; ${b.note}` : ''}`;
  return {
    vhost: b.queue.vhost,
    queue: b.queue.name,
    mode: b.mode,
    depthAtStart: b.depthAtStart,
    captured: b.messages,
    bytes: b.bodyBytes,
    segments: b.segments.length,
    difference,
    endedBy: b.endedBy,
    ...(why ? { note: why } : {}),
  };
}
