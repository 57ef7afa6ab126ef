/** The bundle's entry: the `webchuan` command, as bin/webchuan.js runs it from the sources. */
import { main } from '../../src/cli.js';

process.exitCode = await main(process.argv.slice(2));
