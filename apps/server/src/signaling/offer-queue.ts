/**
 * One outstanding subscriber offer per participant: the browser must answer an offer before it
 * can take the next, so changes that need renegotiation while an offer is out are folded into
 * one follow-up offer sent when the answer arrives.
 */
export class OfferQueue {
  private outstanding = false;
  private pending = false;

  constructor(private readonly sendOffer: () => Promise<void>) {}

  /** A consumer was added: renegotiate now, or after the outstanding offer is answered. */
  async request(): Promise<void> {
    if (this.outstanding) {
      this.pending = true;
      return;
    }
    this.outstanding = true;
    try {
      await this.sendOffer();
    } catch (err) {
      this.outstanding = false;
      throw err;
    }
  }

  get awaitingAnswer(): boolean {
    return this.outstanding;
  }

  /** The answer to the outstanding offer was applied. */
  async answered(): Promise<void> {
    this.outstanding = false;
    if (!this.pending) return;
    this.pending = false;
    await this.request();
  }

  /** After a resume the client lost the offer it had not answered: send a fresh one. */
  async resend(): Promise<void> {
    if (this.outstanding) await this.restart();
  }

  /** The subscriber connection was replaced: what was outstanding is moot, offer afresh. */
  async restart(): Promise<void> {
    this.outstanding = false;
    this.pending = false;
    await this.request();
  }
}
