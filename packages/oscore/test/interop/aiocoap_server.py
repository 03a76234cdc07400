"""An aiocoap OSCORE server for Thimble's interop tests.

Usage: aiocoap_server.py PORT CONTEXT_DIR

Serves on 127.0.0.1:PORT, accepting OSCORE requests with the security context in CONTEXT_DIR (an aiocoap
context directory: settings.json, sequence state beside it):

  /hello    GET -> 2.05 "hello from aiocoap"
  /counter  observable; the value increases every 0.3 s

Prints "ready" on stdout once it listens. Stops on SIGTERM / SIGINT.
"""

import asyncio
import signal
import sys

import aiocoap
import aiocoap.resource as resource
from aiocoap.credentials import CredentialsMap
from aiocoap.oscore_sitewrapper import OscoreSiteWrapper


class Hello(resource.Resource):
    async def render_get(self, request):
        return aiocoap.Message(
            payload=b"hello from aiocoap",
            content_format=0,
        )


class Counter(resource.ObservableResource):
    def __init__(self):
        super().__init__()
        self.value = 0

    async def tick(self):
        while True:
            await asyncio.sleep(0.3)
            self.value += 1
            self.updated_state()

    async def render_get(self, request):
        return aiocoap.Message(payload=str(self.value).encode("ascii"), content_format=0)


async def main(port: int, context_dir: str) -> None:
    root = resource.Site()
    root.add_resource(["hello"], Hello())
    counter = Counter()
    root.add_resource(["counter"], counter)

    credentials = CredentialsMap()
    credentials.load_from_dict({":server": {"oscore": {"contextfile": context_dir}}})
    site = OscoreSiteWrapper(root, credentials)

    context = await aiocoap.Context.create_server_context(
        site, bind=("127.0.0.1", port), server_credentials=credentials
    )
    ticker = asyncio.create_task(counter.tick())
    print("ready", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    ticker.cancel()
    await context.shutdown()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
