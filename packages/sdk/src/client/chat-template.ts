/**
 * How chat messages become a prompt. Baichuan-7B is a base model with no chat format of its own, so
 * the default is a plain transcript that a base model continues naturally:
 *
 *     {system}\n\n            (when there is a system message)
 *     User: {content}\n
 *     Assistant: {content}\n
 *     …
 *     Assistant:
 *
 * and generation stops where the model starts the user's next line. Pass your own `chatTemplate`
 * to `createEngine` for a fine-tuned model's format.
 */
import type { ChatMessage } from './protocol.js';

export type ChatTemplate = (messages: ChatMessage[]) => { prompt: string; stop: string[] };

export const defaultChatTemplate: ChatTemplate = (messages) => {
  let prompt = '';
  for (const m of messages) {
    if (m.role === 'system') prompt += `${m.content}\n\n`;
    else prompt += `${m.role === 'user' ? 'User' : 'Assistant'}: ${m.content}\n`;
  }
  return { prompt: `${prompt}Assistant:`, stop: ['\nUser:'] };
};
