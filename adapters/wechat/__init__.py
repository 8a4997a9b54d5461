"""WeChat official account callbacks: signatures, safe-mode AES, safe XML parsing."""
