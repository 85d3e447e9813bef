import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { testStack } from './stack';

// The test config's "minio" target needs its bucket; rabbitvault never creates buckets.
export async function ensureTestBucket(): Promise<void> {
  const { minio, lane } = testStack();
  const bucket = lane.bucket;
  const s3 = new S3Client({ endpoint: minio.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: minio });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch((e: Error) => {
      if (!/BucketAlready/.test(e.name)) throw e;
    });
  } finally {
    s3.destroy();
  }
}
