"""Packet traces: the run's signalling as pcapng captures that Wireshark decodes.

* :mod:`.addressing`: IPv4, MAC and Diameter identity of every element.
* :mod:`.diameter`: Diameter base protocol (AVPs, header, CER/CEA, DWR/DWA).
* :mod:`.diameter_s6a`: S6a messages from the message records (TS 29.272).
* :mod:`.sctp`: Ethernet, IPv4 and SCTP framing with association state.
* :mod:`.pcapng`: the pcapng writer.
* :mod:`.capture`: :func:`write_capture`, a capture from a finished run.

A later protocol (GTPv2-C over UDP, MAP over TCAP/SCCP/M3UA/SCTP, HTTP/2 SBI
over TCP) adds a codec module next to ``diameter_s6a`` and an emitter next to
:class:`~roamsim.sinks.pcap.capture.S6aSctpEmitter`.
"""

from roamsim.sinks.pcap.addressing import Addressing, Element, PlmnId
from roamsim.sinks.pcap.capture import CAPTURE_POINTS, CaptureSummary, write_capture

__all__ = ["CAPTURE_POINTS", "Addressing", "CaptureSummary", "Element", "PlmnId", "write_capture"]
