import type { ChannelModel } from 'amqplib';

interface RawConnection {
  recvFrame(): unknown;
  stream: { emit(event: 'readable'): boolean };
}

// Backpressure for a consumer that cannot ack (copy mode): while paused, amqplib
// reads no frames, the socket buffer fills and TCP makes the broker wait. This
// keeps worker memory flat however deep the queue is.
export class FrameGate {
  private paused = false;
  private readonly connection: RawConnection;

  constructor(model: ChannelModel) {
    this.connection = (model as unknown as { connection: RawConnection }).connection;
    const recv = this.connection.recvFrame.bind(this.connection);
    this.connection.recvFrame = () => (this.paused ? false : recv());
  }

  private held = false;

  pause(): void {
    if (!this.held) this.paused = true;
  }

  // A reply the caller awaits may sit behind deliveries: read everything until it arrives.
  async holdOpen<T>(wait: () => Promise<T>): Promise<T> {
    this.held = true;
    this.resume();
    try {
      return await wait();
    } finally {
      this.held = false;
    }
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.connection.stream.emit('readable');
  }
}
