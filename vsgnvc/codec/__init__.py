"""The codec: colour conversion, GOP coding, the Encoder, the random-access Decoder and enhance-only refinement."""
