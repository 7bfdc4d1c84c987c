// Runs inside the bench container: the smallest ZeroMQ peer that can stand where a plugin stands.
// It connects a DEALER to the mounted socket, says hello once (so the host learns its routing id)
// and sends every message back unchanged, all parts, one message at a time. No parsing, no SDK.
import { Dealer } from 'zeromq';

const socket = new Dealer({ linger: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
socket.connect('ipc:///run/carapace/plugin.sock');
await socket.send('ready');
for await (const message of socket) await socket.send(message);
