"""HTTP data plane: codecs (codec.py, h1.py, h2.py), header rules (headers.py), and what is built on them.

The codec interface (codec.py) is bytes in, protocol-neutral stream events out; codec_select.py
chooses HTTP/1.1 or HTTP/2. The HTTP filter contract is stated once in filter.py; a filter
registers itself with `register_http_filter`. conn_manager.py is the HTTP connection manager, the
network filter that runs all of it.
"""

from proxy._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "CodecLimits": "codec",
        "ServerCodec": "codec",
        "ClientCodec": "codec",
        "CodecUsageError": "codec",
        "RequestHeaders": "codec",
        "ResponseHeaders": "codec",
        "InformationalResponse": "codec",
        "Data": "codec",
        "Trailers": "codec",
        "StreamReset": "codec",
        "ProtocolViolation": "codec",
        "ConnectionClosed": "codec",
        "create_server_codec": "codec_select",
        "create_client_codec": "codec_select",
        "FilterStatus": "filter",
        "StreamFilter": "filter",
        "HeaderMap": "message",
        "RequestHead": "message",
        "ResponseHead": "message",
        "register_http_filter": "registry",
        "registered_http_filters": "registry",
        "HttpConnectionManager": "conn_manager",
    },
)
