"""Use-cases shared by the bot and the panel, the settings, the error tree and the composition root."""
