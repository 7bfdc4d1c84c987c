import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { ConfirmationPrompt } from '../wire/control.js';

/**
 * Asks the MCP client's user to approve one high-risk call, through elicitation. Only an
 * accepted form with `approve: true` approves; a decline, a cancel, a malformed answer, an error
 * or no answer before the core's own deadline denies.
 */
export async function confirmByElicitation(server: Server, prompt: ConfirmationPrompt): Promise<boolean> {
  try {
    const answer = await server.elicitInput(
      {
        mode: 'form',
        message: describe(prompt),
        requestedSchema: {
          type: 'object',
          properties: { approve: { type: 'boolean', title: 'Approve this call', description: 'Run the tool with the arguments shown', default: false } },
          required: ['approve'],
        },
      },
      { timeout: prompt.timeoutMs },
    );
    return answer.action === 'accept' && answer.content?.['approve'] === true;
  } catch {
    return false;
  }
}

// The arguments were sanitized by the core: the prompt is a display like any other.
function describe(prompt: ConfirmationPrompt): string {
  return [
    `Carapace: the agent wants to run the high-risk tool ${prompt.topic}.`,
    prompt.description,
    `Arguments: ${JSON.stringify(prompt.arguments)}`,
    'Approve it?',
  ].join('\n');
}
