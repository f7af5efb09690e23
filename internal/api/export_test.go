package api

import (
	"log/slog"

	"github.com/gin-gonic/gin"
)

// Router is the API's router without its CORS wrapper, for the tests that list its
// routes.
func Router(cfg Config, sessions Sessions, logger *slog.Logger) (*gin.Engine, error) {
	_, r, err := build(cfg, sessions, logger)
	return r, err
}
