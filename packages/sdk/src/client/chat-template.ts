/**
 * How chat messages become a prompt. Baichuan-7B is a base model with no chat format of its own, so
 * the default is a plain transcript that a base model continues naturally:
 *
 *     {system}\n\n            (when there is a system message)
 *     User: {content}\n
 *     Assistant: {content}\n
 *     Tool: {content}\n       (a tool's result)
 *     …
 *     Assistant:
 *
 * and generation stops where the model starts the user's next line. Pass your own `chatTemplate`
 * to `createEngine` for a fine-tuned model's format.
 *
 * A template that can offer tools says so with `tools: true` and takes the offer as its second
 * argument; the reply is then held to a call's JSON (client/tools.ts). The default does: it lists the
 * tools' JSON after the system message and says how to call one, and an assistant's earlier calls
 * appear in the transcript as the JSON it would have written.
 */
import type { TemplateMessage } from './protocol.js';
import type { ToolOffer } from './tools.js';

export interface ChatTemplate {
  (messages: TemplateMessage[], tools?: ToolOffer): { prompt: string; stop: string[] };
  /** True when the template offers `tools` (its second argument) in the prompt; without it, requests with tools are refused. */
  tools?: boolean;
}

/** How the default template offers tools: what it adds after the system message. */
export function toolInstructions(offer: ToolOffer): string {
  const how = '{"tool_calls": [{"name": <the tool\'s name>, "arguments": <its arguments as a JSON object>}]}';
  const when =
    offer.choice === 'auto'
      ? `To call a tool, answer with only ${how}; otherwise answer in words.`
      : offer.choice === 'required'
        ? `Answer by calling a tool: only ${how}.`
        : `Answer by calling the tool ${offer.choice.name}: only ${how}.`;
  return `You can call these tools:\n${JSON.stringify(offer.tools.map((t) => t.function))}\n${when}`;
}

/** An assistant's calls as the JSON the default template asks for. */
function callsText(m: TemplateMessage): string {
  const calls = (m.tool_calls ?? []).map((c) => ({ name: c.function.name, arguments: JSON.parse(c.function.arguments) as unknown }));
  return JSON.stringify({ tool_calls: calls });
}

const LABEL: Record<TemplateMessage['role'], string> = { system: '', user: 'User', assistant: 'Assistant', tool: 'Tool' };

export const defaultChatTemplate: ChatTemplate = Object.assign(
  (messages: TemplateMessage[], tools?: ToolOffer) => {
    let prompt = '';
    const system = messages.filter((m) => m.role === 'system').map((m) => m.content);
    if (tools) system.push(toolInstructions(tools));
    if (system.length > 0) prompt += `${system.join('\n\n')}\n\n`;
    for (const m of messages) {
      if (m.role === 'system') continue;
      const content = m.role === 'assistant' && m.tool_calls?.length ? callsText(m) : m.content;
      prompt += `${LABEL[m.role]}: ${content}\n`;
    }
    return { prompt: `${prompt}Assistant:`, stop: ['\nUser:', '\nTool:'] };
  },
  { tools: true },
);
