/**
 * A reply's figures for a person: tokens, time to the first token (and how much of it went to
 * preparing GPU kernels, when a request waited for them), prefill and decode speed.
 */
import type { Usage } from '../client/protocol.js';

export function formatUsage(u: Usage): string {
  const rate = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  const preparing = u.extra.gpu_kernel_prepare_s;
  const first = `first token ${u.extra.time_to_first_token_s.toFixed(2)} s${preparing ? ` (${preparing.toFixed(1)} s of it preparing GPU kernels, once)` : ''}`;
  const parts = [`${u.completion_tokens} token${u.completion_tokens === 1 ? '' : 's'}`, first];
  if (u.extra.prefill_tokens_per_s > 0) parts.push(`prefill ${rate(u.extra.prefill_tokens_per_s)} tok/s`);
  if (u.extra.decode_tokens_per_s > 0) parts.push(`decode ${rate(u.extra.decode_tokens_per_s)} tok/s`);
  return parts.join(' · ');
}
