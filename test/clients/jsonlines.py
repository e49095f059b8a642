# JSON lines between a test and the slixmpp clients here (test/clients/_json-lines.ts drives
# them): commands in on stdin, events out on stdout, one JSON object a line.
import asyncio
import json
import sys


def out(obj):
    """One event to the test."""
    sys.stdout.write(json.dumps(obj) + '\n')
    sys.stdout.flush()


async def commands(limit=1 << 24):
    """Each command from stdin, until {"op": "quit"} or the end of the input."""
    loop = asyncio.get_event_loop()
    reader = asyncio.StreamReader(limit=limit)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        c = json.loads(line)
        if c.get('op') == 'quit':
            return
        yield c
