import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';

// Persistent messages until the data directory holds at least `bytes`: JSON-ish
// bodies (base64 of random bytes) compress like real payloads, about 4:3.
export async function fillPersistent(amqpUrl: string, bytes: number, messageSize = 64 * 1024, queue = 'bench-data-dir'): Promise<number> {
  const connection = await amqp.connect(amqpUrl);
  try {
    const ch = await connection.createConfirmChannel();
    await ch.assertQueue(queue, { durable: true });
    const count = Math.ceil(bytes / messageSize);
    let outstanding = 0;
    let release: (() => void) | undefined;
    for (let i = 0; i < count; i += 1) {
      const body = Buffer.from(JSON.stringify({ seq: i, payload: randomBytes(Math.floor((messageSize * 3) / 4) - 32).toString('base64') }));
      outstanding += 1;
      ch.sendToQueue(queue, body, { persistent: true }, () => {
        outstanding -= 1;
        if (outstanding < 256) release?.();
      });
      if (outstanding >= 512) await new Promise<void>((r) => (release = r));
    }
    await ch.waitForConfirms();
    return count;
  } finally {
    await connection.close();
  }
}
