"""A listening page from run folders (``scripts/listen.py``): per experiment, rows of test
sounds and a column per loss, each cell a player and a spectrogram.

``runs`` (run folders read, grouped, with their kept test sounds), ``seed_choice`` (the seed
played per loss), ``tables`` (rows aligned across runs), ``spectrogram`` and ``audio_files``
(the cells' files), ``page_model`` / ``page_html`` with ``listen.js`` / ``listen.css`` (the
page), ``site`` (all of it into a folder), ``chromium`` and ``page_check`` (the page opened
and checked in headless Chromium).
"""
