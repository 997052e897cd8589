"""Launches the chat page (rag/apps/web.py): `python ui.py [--host H] [--port P] [--llm NAME]`."""

from rag.apps.web import main

if __name__ == "__main__":
    main()
