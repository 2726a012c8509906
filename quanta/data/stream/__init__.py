"""Streaming: data larger than memory, read from files chunk by chunk while training.

- :mod:`.plan`: chunks, the per-row split hash, rank shards, the memory budget;
- :mod:`.prefetch`: background threads reading chunks ahead, in order;
- :mod:`.shuffle`: the shuffle buffer mixing chunks into batches;
- :mod:`.stream`: the streamed data set, its scan and its parts;
- :mod:`.loader`: batches on the device with the in-memory loader's interface.
"""
