import { runPlugin } from '../../plugin-sdk/index.js';
import { echoTools } from './echo-tools.js';
import { exitOnFailure } from '../exit-on-failure.js';

/** The echo plugin's entry point, run by node in its container (`/app/plugins/echo/main.js`). */
await runPlugin({ name: 'echo', tools: echoTools }).catch(exitOnFailure('echo'));
