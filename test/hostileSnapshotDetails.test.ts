// A volume-snapshot set's manifest details are read back from storage, where
// anyone who can write the bucket can rewrite them (and their checksums):
// every field a restore uses is bounded by the schema, and a rewritten one is
// refused naming the field, before any Kubernetes object is touched.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseUntrusted } from '../common/untrusted';
import { RestorableSnapshotDetails } from '../common/volumeSnapshotRestoreDetails';

const valid = {
  namespace: 'mq',
  statefulSet: 'mq-server',
  volumeSnapshotClass: 'csi-snapclass',
  driver: 'hostpath.csi.k8s.io',
  consistent: true,
  naming: 'operator',
  nodes: ['rabbit@mq-server-0.mq-nodes.mq'],
  snapshots: [{ name: 'persistence-mq-server-0-s1', persistentVolumeClaim: 'persistence-mq-server-0', pod: 'mq-server-0', volumeSnapshotContent: 'snapcontent-1', restoreSize: '8Gi', creationTime: '2026-12-04T00:00:00Z' }],
  queues: [{ vhost: '/', name: 'orders', messages: 10 }],
};
const source = { set: 'hostile', artifact: 'manifest.json details' };
const refused = (details: unknown, field: RegExp) =>
  assert.throws(
    () => parseUntrusted(RestorableSnapshotDetails, details, source),
    (error: Error) => field.test(error.message),
  );

describe('volume-snapshot details read back from storage', () => {
  test('a well-formed record parses', () => {
    assert.equal(parseUntrusted(RestorableSnapshotDetails, valid, source).statefulSet, 'mq-server');
  });

  test('rewritten fields are refused, each named', () => {
    refused({ ...valid, statefulSet: '../kube-system' }, /statefulSet/);
    refused({ ...valid, namespace: 'kube system' }, /namespace/);
    refused({ ...valid, snapshots: [{ ...valid.snapshots[0], persistentVolumeClaim: 'data;rm -rf /' }] }, /snapshots\.0\.persistentVolumeClaim/);
    refused({ ...valid, snapshots: [{ ...valid.snapshots[0], restoreSize: 'x'.repeat(100_000) }] }, /snapshots\.0\.restoreSize/);
    refused({ ...valid, snapshots: [] }, /snapshots/);
    refused({ ...valid, nodes: ['not a node name'] }, /nodes\.0/);
    refused({ ...valid, queues: [{ vhost: '/', name: 'orders', messages: -1 }] }, /queues\.0\.messages/);
    refused({ ...valid, naming: 'whatever' }, /naming/);
  });
});
