"""Networks: the video VAE, the contextual latent codec, the diffusion prior and its adapter."""
