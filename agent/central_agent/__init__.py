"""central-agent: the site agent of Central (see ``protocol`` for the wire contract)."""

__version__ = "0.1.0"
