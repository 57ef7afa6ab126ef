/**
 * webchuan's web components. Importing this module registers `<baichuan-completion>`,
 * `<baichuan-chat>` and `<baichuan-status>` (once; a page may import it twice). Every element that
 * names the same model shares one engine.
 */
import { BaichuanChat } from './chat.js';
import { BaichuanCompletion } from './completion.js';
import { BaichuanStatus } from './status.js';

export { BaichuanChat, BaichuanCompletion, BaichuanStatus };
export { engineFor, type EngineState, type Phase } from './engine-registry.js';

const elements: [string, CustomElementConstructor][] = [
  ['baichuan-completion', BaichuanCompletion],
  ['baichuan-chat', BaichuanChat],
  ['baichuan-status', BaichuanStatus],
];
for (const [name, element] of elements) if (!customElements.get(name)) customElements.define(name, element);

declare global {
  interface HTMLElementTagNameMap {
    'baichuan-completion': BaichuanCompletion;
    'baichuan-chat': BaichuanChat;
    'baichuan-status': BaichuanStatus;
  }
}
