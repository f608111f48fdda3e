"""`python -m tools.bench.noop_analyzer`: an analyzer that answers every call at once.

Served as pulumi-policy serves a pack (grpcio's server, a pool of 4 threads, the same message
size options, the port printed on stdout), so that the benchmark can measure what the gRPC
conversation alone costs: the ceiling of any Python policy pack on the machine.
"""

from __future__ import annotations

import sys
import time
from concurrent import futures

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, plugin_pb2

# The message size limit pulumi-policy 1.21.0 gives its server (a private constant there:
# written down here rather than imported, so that this floor stands on no private name).
MAX_RECEIVE_MESSAGE_LENGTH = 400 * 1024 * 1024


class NoopAnalyzer(analyzer_pb2_grpc.AnalyzerServicer):
    def GetAnalyzerInfo(self, request, context):
        return analyzer_pb2.AnalyzerInfo(name="noop", version="0.0.1")

    def GetPluginInfo(self, request, context):
        return plugin_pb2.PluginInfo(version="0.0.1")

    def Configure(self, request, context):
        return empty_pb2.Empty()

    def Remediate(self, request, context):
        return analyzer_pb2.RemediateResponse()

    def Analyze(self, request, context):
        return analyzer_pb2.AnalyzeResponse()

    def AnalyzeStack(self, request, context):
        return analyzer_pb2.AnalyzeResponse()


def main() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                         options=[("grpc.max_receive_message_length", MAX_RECEIVE_MESSAGE_LENGTH)])
    analyzer_pb2_grpc.add_AnalyzerServicer_to_server(NoopAnalyzer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
