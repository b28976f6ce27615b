// placeholder until the Telegram channel lands
