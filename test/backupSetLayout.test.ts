import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ackMarkKey,
  artifactKey,
  artifactNameOf,
  dataDirectoryArtifact,
  DEFINITIONS_ARTIFACT,
  isManifestKey,
  isSetPrefix,
  KUBERNETES_ARTIFACTS,
  manifestKey,
  nodeConfigurationArtifact,
  persistentVolumeClaimArtifact,
  QUEUES_ARTIFACT,
  queueSegmentsFolder,
  REPORT_FILES,
  reportFolder,
  reportKey,
  reportsFolder,
  RESTIC_REPOSITORY_FOLDER,
  RESTIC_SNAPSHOT_FILE,
  resticSetOfTags,
  resticSetTags,
  segmentName,
  setFolder,
  setKeyParts,
  setPrefix,
  setsFolder,
} from '../common/backupSetLayout';

// Existing backups are found by these exact keys: a change here strands every set already stored.
describe('backup set layout', () => {
  const setId = '20261125T063000Z-3f9a1c2e';
  const at = new Date('2026-11-25T06:30:00.123Z');

  test('a set and its manifest and artifacts', () => {
    const prefix = setPrefix('prod', 'definitions', setId);
    assert.equal(prefix, 'prod/definitions/20261125T063000Z-3f9a1c2e');
    assert.equal(manifestKey(prefix), 'prod/definitions/20261125T063000Z-3f9a1c2e/manifest.json');
    assert.equal(artifactKey(prefix, DEFINITIONS_ARTIFACT), 'prod/definitions/20261125T063000Z-3f9a1c2e/definitions.json');
    assert.equal(setFolder(prefix), 'prod/definitions/20261125T063000Z-3f9a1c2e/');
    assert.equal(setPrefix('prod', 'data-directory', setId), 'prod/data-directory/20261125T063000Z-3f9a1c2e');
  });

  test('listing prefixes', () => {
    assert.equal(setsFolder(), '');
    assert.equal(setsFolder({ cluster: 'prod' }), 'prod/');
    assert.equal(setsFolder({ cluster: 'prod', component: 'messages' }), 'prod/messages/');
    assert.equal(reportsFolder('prod', 'drills'), 'prod/drills/');
    assert.equal(reportsFolder('prod', 'validations'), 'prod/validations/');
  });

  test('keys read back into their set', () => {
    const parts = setKeyParts(`prod/messages/${setId}/manifest.json`);
    assert.deepEqual(parts, { cluster: 'prod', component: 'messages', setId, prefix: `prod/messages/${setId}`, inside: ['manifest.json'] });
    assert.ok(isManifestKey(parts!));
    assert.equal(isManifestKey(setKeyParts(`prod/messages/${setId}/sub/manifest.json`)!), false);
    assert.deepEqual(setKeyParts('prod/messages/stray')?.inside, []);
    assert.equal(setKeyParts('prod/messages'), undefined);
    assert.ok(isSetPrefix(`prod/messages/${setId}`));
    for (const notASet of ['prod/messages', `prod/drills/${setId}`, 'prod/messages/zzzz', `prod/messages/${setId}/x`, `../messages/${setId}`]) {
      assert.equal(isSetPrefix(notASet), false, notASet);
    }
  });

  test('message artifacts', () => {
    const prefix = setPrefix('prod', 'messages', setId);
    assert.equal(QUEUES_ARTIFACT, 'queues.json');
    assert.equal(segmentName(3, 12), 'q0003-000012.rvseg.gz');
    assert.equal(queueSegmentsFolder(prefix, 3), `prod/messages/${setId}/q0003-`);
    assert.equal(artifactNameOf(prefix, `prod/messages/${setId}/q0003-000012.rvseg.gz`), 'q0003-000012.rvseg.gz');
    assert.equal(ackMarkKey(prefix, 'q0003-000012.rvseg.gz', 'sending'), `prod/messages/${setId}/q0003-000012.rvseg.gz.ack-sending`);
    assert.equal(ackMarkKey(prefix, 'q0003-000012.rvseg.gz', 'done'), `prod/messages/${setId}/q0003-000012.rvseg.gz.ack-done`);
  });

  test('configuration artifacts', () => {
    assert.equal(nodeConfigurationArtifact('rabbit@mq-0', '/etc/rabbitmq/rabbitmq.conf'), 'rabbit@mq-0--etc--rabbitmq--rabbitmq.conf');
    assert.deepEqual(KUBERNETES_ARTIFACTS, { configMap: 'configmap.json', secret: 'secret.json', helmValues: 'helm-values.yaml', chartInfo: 'chart-info.json' });
    assert.equal(persistentVolumeClaimArtifact('data-mq-0'), 'pvc-data-mq-0.json');
  });

  test('data-directory artifacts and restic', () => {
    assert.equal(dataDirectoryArtifact('rabbit@mq-0', 'archive'), 'rabbit@mq-0.tar.zst');
    assert.equal(dataDirectoryArtifact('rabbit@mq-0', 'restic'), 'rabbit@mq-0.restic.json');
    assert.equal(RESTIC_REPOSITORY_FOLDER, 'restic');
    assert.equal(RESTIC_SNAPSHOT_FILE, 'data-directory.tar');
    assert.deepEqual(resticSetTags('prod', setId), ['cluster=prod', `set=${setId}`]);
    assert.deepEqual(resticSetOfTags(['host=x', 'cluster=prod', `set=${setId}`]), { cluster: 'prod', setId });
    assert.deepEqual(resticSetOfTags(undefined), { cluster: undefined, setId: undefined });
  });

  test('reports beside the sets', () => {
    const drills = reportFolder('prod', 'drills', at);
    assert.equal(drills, 'prod/drills/20261125T063000Z');
    assert.equal(reportKey(drills, REPORT_FILES.json), 'prod/drills/20261125T063000Z/report.json');
    assert.equal(reportKey(drills, REPORT_FILES.markdown), 'prod/drills/20261125T063000Z/report.md');
    assert.equal(reportKey(reportFolder('prod', 'validations', at), REPORT_FILES.json), 'prod/validations/20261125T063000Z/report.json');
  });
});
