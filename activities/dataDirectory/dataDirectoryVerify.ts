import type { TarSummary } from '../../lib/archive/tarGuard';
import { drain, readNodeTar, type NodeArtifactRef } from '../../lib/dataDirectory/artifactReader';
import { resticRepository } from '../../lib/restic/repository';
import { Restic } from '../../lib/restic/restic';
import type { ActivityDeps } from '../deps';
import { streamWatch } from './streaming';

export function createDataDirectoryVerifyActivities(deps: ActivityDeps) {
  return {
    // Reads the whole artifact: checksums, decompression, and every tar entry
    // checked for safety. Used after a backup and before a restore stops anything.
    async verifyDataDirectoryArtifact(input: NodeArtifactRef & { node: string; resticCheck?: boolean }): Promise<{ summary: TarSummary; tarBytes: number }> {
      const watch = streamWatch(`verifying ${input.artifact.name}`);
      try {
        if (input.method === 'restic' && input.resticCheck) await new Restic(resticRepository(deps.config, input.storage)).check();
        return await readNodeTar(deps, input, input.node, drain, watch);
      } finally {
        watch.done();
      }
    },
  };
}
