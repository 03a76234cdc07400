/**
 * A custom LwM2M device built with the library API: a smart plug with a switch (IPSO Light Control
 * 3311 used as an on/off actuator), a temperature sensor read through a callback, and the mandatory
 * Server and Device objects.
 *
 *   npx tsx examples/lwm2m-device/main.ts coap://127.0.0.1:5683 my-plug
 *
 * Try it with Leshan's server demo: read /3/0, write /3311/0/5850 true, observe /3303/0/5700.
 */
import { createUdpEndpoint } from '@thimble/coap-core/node';
import { Lwm2mClient } from '@thimble/lwm2m';

const serverUri = process.argv[2] ?? 'coap://127.0.0.1:5683';
const endpointName = process.argv[3] ?? 'thimble-plug';

const endpoint = await createUdpEndpoint({ port: 0 });
const client = new Lwm2mClient({ endpointName, endpoint, serverUri, lifetime: 120, version: '1.1' });

// Server (1) and Device (3): plain values; Execute on Reboot is a callback.
client.addInstance(1, 0, { 0: 1, 1: 120, 6: false, 7: 'U' });
client.addInstance(3, 0, {
  0: 'Thimble',
  1: 'Smart plug',
  2: 'PLUG-42',
  3: '1.0.0',
  4: { execute: () => console.log('reboot requested') },
  11: [0],
  16: 'U',
});

// An actuator: the server's Write reaches the callback; the value read back is what was written.
let relay = false;
client.addInstance(3311, 0, {
  5850: {
    read: () => relay,
    write: (value) => {
      relay = value === true;
      console.log(`relay ${relay ? 'on' : 'off'}`);
    },
  },
  5750: 'plug',
});

// A sensor read through a callback (async works too); `changed` tells observers to look again.
let celsius = 20;
client.addInstance(3303, 0, { 5700: { read: () => celsius }, 5701: 'Cel' });
setInterval(() => {
  celsius = Math.round((celsius + (Math.random() - 0.5)) * 10) / 10;
  client.changed('/3303/0/5700');
}, 5000).unref();

client.on('registered', (location) => console.log(`registered at ${location}`));
client.on('error', (e) => console.log(`error: ${e.message}`));
client.on('operation', (op) => console.log(`${op.operation} ${op.path} -> ${op.code}`));
client.start();

// keep running until Ctrl-C, then de-register
const keepAlive = setInterval(() => {}, 1 << 30);
process.once('SIGINT', async () => {
  clearInterval(keepAlive);
  await client.stop();
  await endpoint.close();
});
