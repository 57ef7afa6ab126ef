/** A reply's figures for a person: tokens, time to the first token, prefill and decode speed. */
import type { Usage } from '../client/protocol.js';

export function formatUsage(u: Usage): string {
  const rate = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  const parts = [`${u.completion_tokens} token${u.completion_tokens === 1 ? '' : 's'}`, `first token ${u.extra.time_to_first_token_s.toFixed(2)} s`];
  if (u.extra.prefill_tokens_per_s > 0) parts.push(`prefill ${rate(u.extra.prefill_tokens_per_s)} tok/s`);
  if (u.extra.decode_tokens_per_s > 0) parts.push(`decode ${rate(u.extra.decode_tokens_per_s)} tok/s`);
  return parts.join(' · ');
}
