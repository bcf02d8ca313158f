"""Account domain: users, their platform identities, and the chats they talk from."""
