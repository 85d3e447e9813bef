import { ApplicationFailure, patched } from '@temporalio/workflow';
import type { QueueRestore } from '../activities/messages/messagesRestore';
import { QUEUES_ARTIFACT } from '../common/backupSetLayout';
import { FailureType } from '../common/failures';
import { RestoreMessagesInput, type RestoreMessagesResult } from '../contracts/messages';
import { activitiesWithRetry, heartbeatingActivities } from './toolkit/activities';
import { explainFailure } from './toolkit/failures';
import { parseWorkflowInput } from './toolkit/input';
import { trackProgress } from './toolkit/progress';
import { verifiedSetOrRefuse } from './toolkit/verifiedSet';

// The guide's "Restore Messages", made safe: checksums first, queues declared
// from their backed-up declaration, in-order publishing with confirms, resumable.
export async function restoreMessages(rawInput: RestoreMessagesInput): Promise<RestoreMessagesResult> {
  const input = parseWorkflowInput(RestoreMessagesInput, rawInput, 'restoreMessages');
  const sourceCluster = input.sourceCluster ?? input.cluster;
  const progress = trackProgress();
  const act = activitiesWithRetry('messages', input.retry);
  const publisher = heartbeatingActivities('messages', input.retry, input.heartbeatTimeoutSeconds);

  progress('verifying backup set', `${sourceCluster} ${input.from}`);
  const set = await verifiedSetOrRefuse(act, { storage: input.storage, cluster: sourceCluster, component: 'messages', set: input.from });
  const indexArtifact = set.manifest.artifacts.find((a) => a.name === QUEUES_ARTIFACT);
  if (!indexArtifact) throw ApplicationFailure.create({ message: `set ${set.manifest.setId} has no queues.json: not a message backup`, type: FailureType.ManifestInvalid, nonRetryable: true });
  const all = await act.readQueueIndex({ storage: set.storage, prefix: set.prefix, sha256: indexArtifact.sha256 }).catch((error: unknown) => {
    throw explainFailure('reading the queue index', error, 'the target was not touched');
  });
  const chosen = all.filter((q) => q.mode !== 'skipped' && (!input.queues.length || input.queues.includes(q.queue.name)));
  const missing = input.queues.filter((name) => !all.some((q) => q.queue.name === name));
  if (missing.length || (input.toQueue && chosen.length !== 1)) {
    throw ApplicationFailure.create({
      message: missing.length
        ? `set ${set.manifest.setId} has no queue ${missing.map((m) => `"${m}"`).join(', ')} (it has ${all.map((q) => `"${q.queue.name}"`).join(', ')}); the target was not touched`
        : `toQueue needs exactly one source queue, but ${chosen.length} are selected: name one with queues; the target was not touched`,
      type: FailureType.InvalidInput,
      nonRetryable: true,
    });
  }

  // Every segment is read and checked before the first change on the target (histories from before this step skip it).
  if (patched('restore-messages-checks-segments-first')) {
    progress('checking segments', `${chosen.reduce((n, q) => n + q.segments.length, 0)} segments of ${chosen.length} queues`);
    await publisher.checkQueueSegments({ storage: set.storage, prefix: set.prefix, queues: chosen }).catch((error: unknown) => {
      throw explainFailure('checking the message segments', error, 'the target was not touched');
    });
  }

  const done: QueueRestore[] = [];
  for (const [i, queue] of chosen.entries()) {
    const target = { vhost: input.toVhost ?? queue.queue.vhost, name: input.toQueue ?? queue.queue.name };
    progress(`publishing queue ${i + 1} of ${chosen.length}`, `${queue.messages} messages into ${target.vhost} ${target.name}`);
    const restored = await publisher
      .restoreQueueMessages({ cluster: input.cluster, storage: set.storage, prefix: set.prefix, queue, target, route: input.route, confirmWindow: input.confirmWindow })
      .catch((error: unknown) => {
        const changed = done.map((d) => `${d.confirmed} messages into ${d.target.name}`).join(', ');
        const earlier = changed ? `already restored: ${changed}; those stay on the target; a new restore of them would publish them again` : 'no earlier queue of this restore was published';
        throw explainFailure(`restoring into queue "${target.name}" in vhost "${target.vhost}"`, error, earlier);
      });
    done.push(restored);
  }
  const totals = {
    queues: done.length,
    messages: done.reduce((n, q) => n + q.messages, 0),
    published: done.reduce((n, q) => n + q.published, 0),
    confirmed: done.reduce((n, q) => n + q.confirmed, 0),
  };
  progress('done', `${totals.confirmed} messages confirmed into ${input.cluster}`);
  return { cluster: input.cluster, sourceCluster, setId: set.manifest.setId, location: set.location, totals, queues: done };
}
