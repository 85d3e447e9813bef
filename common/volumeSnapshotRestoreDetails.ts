import { z } from 'zod';
import { VolumeSnapshotDetails } from './volumeSnapshotDetails';

// What a snapshot restore reads from a set's details: the backup's record,
// plus the queues and their message counts when a set records them (checked
// after the restore, as the guide's Recovery 4 Step 5 does).
export const RestorableSnapshotDetails = VolumeSnapshotDetails.extend({
  queues: z
    .array(z.object({ vhost: z.string().max(255), name: z.string().max(255), messages: z.number().int().min(0) }))
    .max(100_000)
    .optional(),
});
export type RestorableSnapshotDetails = z.infer<typeof RestorableSnapshotDetails>;
